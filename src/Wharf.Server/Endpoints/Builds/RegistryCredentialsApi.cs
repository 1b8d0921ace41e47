using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;

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
        var group = endpoints.MapGroup("/api/v1/registry-credentials");
        group.MapPost("", CreateAsync);
        group.MapGet("", ListAsync);
        group.MapDelete("{id}", DeleteAsync);
        return endpoints;
    }

    private static async Task<Results<JsonHttpResult<RegistryCredentialDto>, ProblemHttpResult>> CreateAsync(
        HttpContext context, IRegistryCredentialStore store, ISecretProtector protector, AuthOptions auth, CancellationToken cancellationToken)
    {
        if (Refuse(context.User, auth) is { } refused) return refused;
        RegistryCredentialRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, BuildsJsonContext.Default.RegistryCredentialRequest, cancellationToken);
        }
        catch (JsonException)
        {
            return BuildProblems.Problem(BuildProblemKind.Invalid, "The body must be JSON: {\"host\", \"username\", \"secret\"}.");
        }
        var host = request?.Host?.Trim();
        var username = request?.Username;
        var secret = request?.Secret ?? request?.Password;
        if (string.IsNullOrEmpty(host) || !ImageReference.TryParse($"{host}/probe:latest", out var parsed, out _) || parsed.Registry != host)
        {
            return BuildProblems.Problem(BuildProblemKind.Invalid, "host must be a registry host such as registry.example.com or 127.0.0.1:5001.");
        }
        if (string.IsNullOrEmpty(username) || username.Length > 256) return BuildProblems.Problem(BuildProblemKind.Invalid, "username is required (at most 256 characters).");
        if (string.IsNullOrEmpty(secret) || secret.Length > 8192) return BuildProblems.Problem(BuildProblemKind.Invalid, "secret is required (at most 8192 characters).");
        var stored = await store.UpsertAsync(context.User.Username(), host, username, protector.Protect(secret), cancellationToken);
        return TypedResults.Json(ToDto(stored), BuildsJsonContext.Default.RegistryCredentialDto, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<Results<JsonHttpResult<RegistryCredentialListDto>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, IRegistryCredentialStore store, AuthOptions auth, CancellationToken cancellationToken)
    {
        if (auth.Mode == AuthMode.Accounts && user.Username() is null) return BuildProblems.Problem(BuildProblemKind.Unauthenticated, "Sign in to list your registry credentials.");
        var list = await store.ListAsync(user.Username(), cancellationToken);
        return TypedResults.Json(new RegistryCredentialListDto(list.Select(ToDto).ToList()), BuildsJsonContext.Default.RegistryCredentialListDto);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(ClaimsPrincipal user, IRegistryCredentialStore store, AuthOptions auth, string id, CancellationToken cancellationToken)
    {
        if (Refuse(user, auth) is { } refused) return refused;
        if (!Guid.TryParse(id, out var credentialId) || !await store.DeleteAsync(user.Username(), credentialId, cancellationToken))
        {
            return BuildProblems.Problem(BuildProblemKind.NotFound, $"No registry credential '{id}'.");
        }
        return TypedResults.NoContent();
    }

    /// <summary>Accounts mode: a change needs a signed-in caller whose credential may manage the account.</summary>
    private static ProblemHttpResult? Refuse(ClaimsPrincipal user, AuthOptions auth)
    {
        if (auth.Mode != AuthMode.Accounts) return null;
        if (user.Username() is null) return BuildProblems.Problem(BuildProblemKind.Unauthenticated, "Sign in to store registry credentials.");
        return user.CanManageAccount() ? null
            : BuildProblems.Problem(BuildProblemKind.Forbidden, "Storing and deleting registry credentials needs the password, or a token or session with the 'admin' scope.");
    }

    private static RegistryCredentialDto ToDto(StoredRegistryCredential c) => new(c.Id, c.Host, c.Username, c.CreatedAt);
}
