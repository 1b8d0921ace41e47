using Wharf.Core.Access;

namespace Wharf.Server.Endpoints;

/// <summary>Adds the authentication challenge (<c>WWW-Authenticate</c>) to a 401 answer of <c>/v2/</c>.</summary>
public interface IRegistryChallenge
{
    ValueTask ChallengeAsync(HttpContext context, RegistryScope scope);
}
