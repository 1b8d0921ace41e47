using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Wharf.Client.Credentials;

namespace Wharf.Client.Registry;

/// <summary>How a login ended: what to store, and whether a registry checked the credentials at all.</summary>
/// <param name="Stored">The credential to keep: an identity token when the registry's token service handed out a refresh token, else the user name and secret.</param>
/// <param name="Checked">False when the registry asked for nothing (no challenge), so nothing proved the credentials.</param>
public sealed record LoginResult(RegistryCredential Stored, bool Checked);

/// <summary>
/// <c>docker login</c>'s steps: <c>GET /v2/</c>; on a Bearer challenge, a token from its realm with the Basic credentials
/// and <c>offline_token=true</c>, keeping the refresh token it returns as the identity token (so the password is not
/// stored, and docker and wharf share the login); on a Basic challenge, the credentials straight on <c>/v2/</c>.
/// </summary>
public static class RegistryLogin
{
    public static async Task<LoginResult> LoginAsync(Uri server, RegistryCredential credential, HttpMessageHandler? transport, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(transport ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }, disposeHandler: transport is null)
        {
            BaseAddress = server,
            Timeout = TimeSpan.FromMinutes(2),
        };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("wharf", "1.0"));
        AuthChallenge? challenge;
        using (var ping = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "v2/"), server, cancellationToken))
        {
            if (ping.StatusCode != HttpStatusCode.Unauthorized) return new LoginResult(credential, Checked: false);
            challenge = ping.Headers.WwwAuthenticate.Select(h => AuthChallenge.Parse(h.ToString())).FirstOrDefault(c => c is not null);
        }
        if (challenge is { IsBearer: true, Realm: { Length: > 0 } realm } && Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
        {
            var query = new List<string> { "client_id=" + RegistryAuthHandler.ClientId, "offline_token=true", "account=" + Uri.EscapeDataString(credential.UserName) };
            if (challenge.Service is { Length: > 0 } service) query.Add("service=" + Uri.EscapeDataString(service));
            var builder = new UriBuilder(realmUri);
            var existing = builder.Query.TrimStart('?');
            builder.Query = string.Join('&', new[] { existing }.Where(e => e.Length > 0).Concat(query));
            using var request = new HttpRequestMessage(HttpMethod.Get, builder.Uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", credential.BasicValue);
            using var response = await SendAsync(http, request, server, cancellationToken);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) throw Refused(server, response);
            if (!response.IsSuccessStatusCode)
            {
                throw new WharfClientException(ClientErrorKind.Failure, $"The token service at {realmUri.GetLeftPart(UriPartial.Path)} answered {(int)response.StatusCode}.");
            }
            TokenResponse? token;
            try
            {
                token = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(cancellationToken), RegistryJsonContext.Default.TokenResponse);
            }
            catch (JsonException e)
            {
                throw new WharfClientException(ClientErrorKind.Failure, $"The token service answered something that is not a token: {e.Message}");
            }
            return new LoginResult(token?.RefreshToken is { Length: > 0 } refresh ? RegistryCredential.ForIdentityToken(credential.UserName, refresh) : credential, Checked: true);
        }
        using var basic = new HttpRequestMessage(HttpMethod.Get, "v2/");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", credential.BasicValue);
        using var answer = await SendAsync(http, basic, server, cancellationToken);
        if (answer.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden) throw Refused(server, answer);
        return new LoginResult(credential, Checked: true);
    }

    private static WharfClientException Refused(Uri server, HttpResponseMessage response) =>
        new(ClientErrorKind.Unauthorized, response.StatusCode == HttpStatusCode.Forbidden
            ? $"Login to {server} refused: the account may be disabled (HTTP 403)."
            : $"Login to {server} failed: wrong user name or password.");

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, Uri server, CancellationToken cancellationToken)
    {
        try
        {
            return await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new WharfClientException(ClientErrorKind.Unreachable, $"Cannot reach {server}: {e.Message}");
        }
    }
}
