using System.Security.Claims;
using System.Security.Cryptography;
using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;
using Wharf.Core.References;

namespace Wharf.Core.Webhooks;

public enum WebhookProblemKind
{
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
}

public sealed record WebhookProblem(WebhookProblemKind Kind, string Message, string? Field = null);

public readonly record struct WebhookResult<T>(T? Value, WebhookProblem? Problem)
{
    public bool IsOk => Problem is null;

    public static implicit operator WebhookResult<T>(T value) => new(value, null);

    public static implicit operator WebhookResult<T>(WebhookProblem problem) => new(default, problem);
}

/// <summary>What a caller asks for when creating a webhook.</summary>
public sealed record NewWebhook(string? Url, string? Secret, IReadOnlyList<string>? Events, string? Repository, string? Namespace, string? Format);

/// <summary>
/// Webhooks as their owners manage them: a repository's or a namespace's webhooks are created, listed and removed by
/// the owners of that namespace (the user it is named after, any owner of the organization, or an administrator);
/// to anyone else they do not exist (404).
/// Targets pass <see cref="WebhookTargets"/>; the secret is kept encrypted and never shown again.
/// </summary>
public sealed class WebhookService(
    IWebhookStore store,
    WebhookTargets targets,
    ISecretProtector protector,
    AuthOptions auth,
    TimeProvider time,
    RepositoryPermissions? permissions = null)
{
    public const int MaxSecretLength = 256;

    private bool Open => auth.Mode == AuthMode.Open;

    public async Task<WebhookResult<Webhook>> CreateAsync(ClaimsPrincipal caller, NewWebhook request, CancellationToken cancellationToken)
    {
        if (Caller(caller) is { } refused) return refused;
        if (string.IsNullOrWhiteSpace(request.Url)) return Invalid("url is required.", "url");
        if (string.IsNullOrEmpty(request.Secret)) return Invalid("secret is required: deliveries are signed with it (X-Wharf-Signature-256).", "secret");
        if (request.Secret.Length > MaxSecretLength) return Invalid($"secret is at most {MaxSecretLength} characters.", "secret");
        if (!WebhookText.TryParseEvents(request.Events, out var events)) return Invalid("events is a non-empty list of push, delete and build.", "events");
        if (!WebhookText.TryParseFormat(request.Format, out var format)) return Invalid("format is 'wharf' or 'distribution'.", "format");
        var hasRepository = !string.IsNullOrEmpty(request.Repository);
        if (hasRepository == !string.IsNullOrEmpty(request.Namespace)) return Invalid("Give exactly one of repository and namespace.", hasRepository ? "namespace" : "repository");
        WebhookScopeKind kind;
        string scope;
        if (hasRepository)
        {
            if (!RepositoryName.IsValid(request.Repository!)) return Invalid($"'{request.Repository}' is not a valid repository name.", "repository");
            kind = WebhookScopeKind.Repository;
            scope = request.Repository!;
        }
        else
        {
            if (request.Namespace!.Contains('/') || !RepositoryName.IsValid(request.Namespace!)) return Invalid($"'{request.Namespace}' is not a valid namespace.", "namespace");
            kind = WebhookScopeKind.Namespace;
            scope = request.Namespace!;
        }
        var ns = kind == WebhookScopeKind.Namespace ? scope : AccountName.NamespaceOf(scope);
        if (!await OwnsAsync(caller, ns, cancellationToken))
        {
            return new WebhookProblem(WebhookProblemKind.Forbidden, $"Only the owners of '{ns ?? "the root namespace"}' add webhooks to it.");
        }
        if (await targets.RefuseAsync(request.Url, cancellationToken) is { } why) return Invalid(why, "url");
        var webhook = new Webhook(Guid.NewGuid(), Open ? null : caller.Username(), kind, scope, request.Url.Trim(), events, format, Truncate(time.GetUtcNow()));
        await store.CreateAsync(webhook, protector.Protect(request.Secret), cancellationToken);
        return webhook;
    }

    /// <summary>
    /// The webhooks of every namespace the caller owns (their own and the organizations they are an owner of), whoever
    /// of its owners added them; an administrator sees every one, configured endpoints too.
    /// </summary>
    public async Task<WebhookResult<IReadOnlyList<Webhook>>> ListAsync(ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (Caller(caller) is { } refused) return refused;
        if (Open || caller.IsAdmin()) return new WebhookResult<IReadOnlyList<Webhook>>(await store.ListAsync(null, cancellationToken), null);
        var user = caller.Username()!;
        var owned = new List<string> { user };
        if (permissions is not null)
        {
            owned.AddRange((await permissions.GetMembershipsAsync(user, cancellationToken)).Where(m => m.Value == OrganizationRole.Owner).Select(m => m.Key));
        }
        return new WebhookResult<IReadOnlyList<Webhook>>(await store.ListAsync(owned, cancellationToken), null);
    }

    public async Task<WebhookResult<Webhook>> GetAsync(ClaimsPrincipal caller, Guid id, CancellationToken cancellationToken)
    {
        if (Caller(caller) is { } refused) return refused;
        var webhook = await store.GetAsync(id, cancellationToken);
        if (webhook is null || !await MayManageAsync(caller, webhook, cancellationToken)) return NotFound(id);
        return webhook;
    }

    public async Task<WebhookResult<bool>> DeleteAsync(ClaimsPrincipal caller, Guid id, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (!found.IsOk) return found.Problem!;
        if (found.Value!.ScopeKind == WebhookScopeKind.Global)
        {
            return new WebhookProblem(WebhookProblemKind.Forbidden, "This endpoint comes from the server's configuration (Wharf:Webhooks:Endpoints); remove it there.");
        }
        return await store.DeleteAsync(id, cancellationToken) ? true : NotFound(id);
    }

    public async Task<WebhookResult<IReadOnlyList<WebhookDelivery>>> DeliveriesAsync(ClaimsPrincipal caller, Guid id, int limit, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (!found.IsOk) return found.Problem!;
        var list = await store.ListDeliveriesAsync(id, Math.Clamp(limit, 1, 100), cancellationToken);
        return new WebhookResult<IReadOnlyList<WebhookDelivery>>(list, null);
    }

    public async Task<WebhookResult<WebhookDelivery>> RedeliverAsync(ClaimsPrincipal caller, Guid id, Guid deliveryId, CancellationToken cancellationToken)
    {
        var found = await GetAsync(caller, id, cancellationToken);
        if (!found.IsOk) return found.Problem!;
        var delivery = await store.RedeliverAsync(id, deliveryId, cancellationToken);
        return delivery is null ? new WebhookProblem(WebhookProblemKind.NotFound, $"Webhook {id} has no delivery {deliveryId}.") : delivery;
    }

    /// <summary><c>sha256=&lt;hex HMAC-SHA256 of the body with the secret&gt;</c>, the value of <c>X-Wharf-Signature-256</c>.</summary>
    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret), body));

    private WebhookProblem? Caller(ClaimsPrincipal caller)
    {
        if (Open) return null;
        if (caller.Username() is null) return new WebhookProblem(WebhookProblemKind.Unauthorized, "Sign in to manage webhooks.");
        if (!caller.CanManageAccount())
        {
            return new WebhookProblem(WebhookProblemKind.Forbidden, "Webhooks are managed with a password or a personal access token with the admin scope.");
        }
        return null;
    }

    private async Task<bool> MayManageAsync(ClaimsPrincipal caller, Webhook webhook, CancellationToken cancellationToken)
    {
        if (Open || caller.IsAdmin()) return true;
        if (webhook.ScopeKind == WebhookScopeKind.Global) return false;
        // Ownership of the namespace now decides, not who added the webhook: an owner who leaves the organization
        // loses its webhooks to the owners who stay.
        var ns = webhook.ScopeKind == WebhookScopeKind.Namespace ? webhook.Scope : AccountName.NamespaceOf(webhook.Scope);
        return await OwnsAsync(caller, ns, cancellationToken);
    }

    private async Task<bool> OwnsAsync(ClaimsPrincipal caller, string? ns, CancellationToken cancellationToken)
    {
        if (Open || caller.IsAdmin()) return true;
        var user = caller.Username();
        if (user is null || ns is null) return false;
        if (ns == user) return true;
        if (permissions is null) return false;
        return (await permissions.GetMembershipsAsync(user, cancellationToken)).TryGetValue(ns, out var role) && role == OrganizationRole.Owner;
    }

    private static WebhookProblem Invalid(string message, string field) => new(WebhookProblemKind.Invalid, message, field);

    private static WebhookProblem NotFound(Guid id) => new(WebhookProblemKind.NotFound, $"No webhook {id}.");

    private static DateTimeOffset Truncate(DateTimeOffset at) => DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
}
