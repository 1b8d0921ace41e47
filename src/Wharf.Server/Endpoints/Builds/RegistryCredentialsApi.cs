using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Server.Errors;
using Wharf.Server.Http;

namespace Wharf.Server.Endpoints.Builds;

/// <summary>
/// <c>/api/v1/registry-credentials</c>: credentials builds push to external registries with. The secret is encrypted
/// at rest and never returned: a listing shows id, host and user name only. With accounts, storing and deleting one
/// needs a signed-in owner whose credential may manage the account (the password, or a token or session with the
/// <c>admin</c> scope): a pull or push token cannot plant credentials that builds then push with.
/// </summary>
public static class RegistryCredentialsApi
{
    public static IEndpointRouteBuilder MapRegistryCredentialsApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/registry-credentials").WithTags("Registry credentials").WithBodyLimit(BodyLimits.SmallJson).ProducesApiProblems();
        group.MapPost("", CreateAsync).WithSummary("Store a credential for an external registry (the secret is never returned)");
        group.MapGet("", ListAsync).WithSummary("Your registry credentials");
        group.MapDelete("{id}", DeleteAsync).WithSummary("Delete a registry credential");
        return endpoints;
    }

    private static async Task<Results<Created<RegistryCredentialDto>, ProblemHttpResult>> CreateAsync(
        HttpContext context, IRegistryCredentialStore store, ISecretProtector protector, AuthOptions auth, CancellationToken cancellationToken)
    {
        if (Refuse(context.User, auth) is { } refused) return refused;
        var (request, problem) = await ApiBody.ReadJsonAsync(context, BuildsJsonContext.Default.RegistryCredentialRequest);
        if (problem is not null) return problem;
        var host = request?.Host?.Trim();
        var username = request?.Username;
        var secret = request?.Secret ?? request?.Password;
        if (string.IsNullOrEmpty(host) || !ImageReference.TryParse($"{host}/probe:latest", out var parsed, out _) || parsed.Registry != host)
        {
            return ApiProblems.Invalid("host must be a registry host such as registry.example.com or 127.0.0.1:5001.");
        }
        if (string.IsNullOrEmpty(username) || username.Length > 256) return ApiProblems.Invalid("username is required (at most 256 characters).");
        if (string.IsNullOrEmpty(secret) || secret.Length > 8192) return ApiProblems.Invalid("secret is required (at most 8192 characters).");
        var stored = await store.UpsertAsync(context.User.Username(), host, username, protector.Protect(secret), cancellationToken);
        return TypedResults.Created($"/api/v1/registry-credentials/{stored.Id}", ToDto(stored));
    }

    private static async Task<Results<Ok<RegistryCredentialListDto>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, IRegistryCredentialStore store, AuthOptions auth, CancellationToken cancellationToken)
    {
        if (auth.Mode == AuthMode.Accounts && user.Username() is null) return ApiProblems.Unauthenticated("Sign in to list your registry credentials.");
        var list = await store.ListAsync(user.Username(), cancellationToken);
        return TypedResults.Ok(new RegistryCredentialListDto(list.Select(ToDto).ToList()));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(ClaimsPrincipal user, IRegistryCredentialStore store, AuthOptions auth, string id, CancellationToken cancellationToken)
    {
        if (Refuse(user, auth) is { } refused) return refused;
        if (!Guid.TryParse(id, out var credentialId) || !await store.DeleteAsync(user.Username(), credentialId, cancellationToken))
        {
            return ApiProblems.NotFound($"No registry credential '{id}'.");
        }
        return TypedResults.NoContent();
    }

    /// <summary>Accounts mode: a change needs a signed-in caller whose credential may manage the account.</summary>
    private static ProblemHttpResult? Refuse(ClaimsPrincipal user, AuthOptions auth)
    {
        if (auth.Mode != AuthMode.Accounts) return null;
        if (user.Username() is null) return ApiProblems.Unauthenticated("Sign in to store registry credentials.");
        return user.CanManageAccount() ? null
            : ApiProblems.Forbidden("Storing and deleting registry credentials needs the password, or a token or session with the 'admin' scope.");
    }

    private static RegistryCredentialDto ToDto(StoredRegistryCredential c) => new(c.Id, c.Host, c.Username, c.CreatedAt);
}
