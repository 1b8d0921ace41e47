using Wharf.Core.Access;

namespace Wharf.Server.Endpoints;

/// <summary>Adds the authentication challenge (<c>WWW-Authenticate</c>) to a 401 answer of <c>/v2/</c>.</summary>
public interface IRegistryChallenge
{
    /// <summary>
    /// Challenges for every scope the request needs, in order: the route's own first, then any other (the source
    /// repository of a cross-repository mount needs <c>pull</c>).
    /// </summary>
    ValueTask ChallengeAsync(HttpContext context, IReadOnlyList<RegistryScope> scopes);
}
