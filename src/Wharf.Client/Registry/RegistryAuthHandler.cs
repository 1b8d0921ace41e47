using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.Client.Credentials;

namespace Wharf.Client.Registry;

/// <summary>
/// Answers registry auth challenges: on a 401 with <c>Bearer realm,service,scope</c> it fetches a token from the realm
/// (Basic credentials when it has some, the refresh-token grant with an identity token, anonymous otherwise), caches it per scope until it expires and retries; on a
/// <c>Basic</c> challenge it sends Basic credentials from then on. Requests say which scope they need through
/// <see cref="ScopeKey"/>, so a cached token goes out with the first try and streamed bodies are never sent twice.
/// </summary>
public sealed class RegistryAuthHandler(RegistryCredential? credential, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    public static readonly HttpRequestOptionsKey<string> ScopeKey = new("wharf.scope");

    /// <summary>The OAuth2 <c>client_id</c> the client names itself with at the token endpoint.</summary>
    public const string ClientId = "wharf";

    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private volatile AuthChallenge? _challenge;

    public RegistryCredential? Credential { get; } = credential;

    /// <summary>True once the registry has challenged a request (so it checks credentials).</summary>
    public bool Challenged => _challenge is not null;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Options.TryGetValue(ScopeKey, out var scope);
        scope ??= "";
        await AuthorizeAsync(request, scope, cancellationToken);
        var response = await base.SendAsync(request, cancellationToken);
        if (response.StatusCode != HttpStatusCode.Unauthorized) return response;

        var challenge = response.Headers.WwwAuthenticate.Select(h => AuthChallenge.Parse(h.ToString())).FirstOrDefault(c => c is not null);
        if (challenge is null || !(challenge.IsBearer || challenge.IsBasic && Credential is not null)) return response;
        // Only requests without a body, or with a buffered one, can be sent again.
        if (request.Content is not null and not ByteArrayContent) return response;
        if (challenge.IsBasic && request.Headers.Authorization?.Scheme == "Basic") return response; // wrong credentials
        var hadBearer = request.Headers.Authorization?.Scheme == "Bearer";
        _challenge = challenge;
        if (challenge.IsBearer)
        {
            _tokens.TryRemove(scope, out _);
            if (hadBearer && challenge.Parameters.GetValueOrDefault("error") is null && Credential is null) return response;
            await FetchTokenAsync(challenge, scope, cancellationToken);
        }
        response.Dispose();
        var retry = Clone(request);
        await AuthorizeAsync(retry, scope, cancellationToken);
        return await base.SendAsync(retry, cancellationToken);
    }

    private async Task AuthorizeAsync(HttpRequestMessage request, string scope, CancellationToken cancellationToken)
    {
        var challenge = _challenge;
        if (challenge is null) return;
        if (challenge.IsBasic && Credential is not null)
        {
            // An identity token goes as the Basic password (Wharf takes it there like a personal access token).
            var basic = Credential.HasIdentityToken ? new RegistryCredential(Credential.UserName, Credential.IdentityToken!) : Credential;
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic.BasicValue);
        }
        else if (challenge.IsBearer)
        {
            if (!_tokens.TryGetValue(scope, out var cached) || cached.Expires <= DateTimeOffset.UtcNow)
            {
                await FetchTokenAsync(challenge, scope, cancellationToken);
                if (!_tokens.TryGetValue(scope, out cached)) return;
            }
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cached.Token);
        }
    }

    private async Task FetchTokenAsync(AuthChallenge challenge, string scope, CancellationToken cancellationToken)
    {
        if (challenge.Realm is not { Length: > 0 } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
        {
            throw new WharfClientException(ClientErrorKind.Failure, "The registry asked for a token but named no valid realm.");
        }
        var query = new List<string>();
        if (challenge.Service is { Length: > 0 } service) query.Add("service=" + Uri.EscapeDataString(service));
        var scopes = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (challenge.Scope is { Length: > 0 } asked)
        {
            scopes.AddRange(asked.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => !scopes.Contains(s)));
        }
        HttpRequestMessage tokenRequest;
        if (Credential is { HasIdentityToken: true })
        {
            // As docker does with an identity token: the OAuth2 refresh-token grant, by POST.
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = Credential.IdentityToken!,
                ["client_id"] = ClientId,
                ["scope"] = string.Join(' ', scopes),
            };
            if (challenge.Service is { Length: > 0 } formService) form["service"] = formService;
            tokenRequest = new HttpRequestMessage(HttpMethod.Post, realmUri) { Content = new FormUrlEncodedContent(form) };
        }
        else
        {
            query.AddRange(scopes.Select(s => "scope=" + Uri.EscapeDataString(s)));
            if (Credential is not null) query.Add("account=" + Uri.EscapeDataString(Credential.UserName));
            var builder = new UriBuilder(realmUri);
            var existing = builder.Query.TrimStart('?');
            builder.Query = string.Join('&', new[] { existing }.Where(e => e.Length > 0).Concat(query));
            tokenRequest = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
            if (Credential is not null) tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Basic", Credential.BasicValue);
        }
        using var sent = tokenRequest;
        using var response = await base.SendAsync(tokenRequest, cancellationToken);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new WharfClientException(ClientErrorKind.Unauthorized, Credential switch
            {
                null => "The registry needs credentials: run 'wharf login' first.",
                { HasIdentityToken: true } => "The stored login is no longer valid (revoked, expired, or the password changed): run 'wharf login' again.",
                _ => $"The registry refused the credentials of '{Credential.UserName}': run 'wharf login' again.",
            });
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The token service at {realmUri.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode}.");
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        TokenResponse? token;
        try
        {
            token = await JsonSerializer.DeserializeAsync(body, RegistryJsonContext.Default.TokenResponse, cancellationToken);
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"The token service answered something that is not a token: {e.Message}");
        }
        var value = token?.Token is { Length: > 0 } t ? t : token?.AccessToken;
        if (string.IsNullOrEmpty(value)) throw new WharfClientException(ClientErrorKind.Failure, "The token service answered without a token.");
        var lifetime = TimeSpan.FromSeconds(Math.Max(60, token!.ExpiresIn ?? 60));
        // Refresh a little early so that a token never expires in flight.
        _tokens[scope] = (value, DateTimeOffset.UtcNow + lifetime - TimeSpan.FromSeconds(10));
    }

    private static HttpRequestMessage Clone(HttpRequestMessage request)
    {
        var clone = new HttpRequestMessage(request.Method, request.RequestUri) { Content = request.Content, Version = request.Version };
        foreach (var header in request.Headers)
        {
            if (header.Key != "Authorization") clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
        foreach (var option in request.Options) ((IDictionary<string, object?>)clone.Options)[option.Key] = option.Value;
        return clone;
    }
}
