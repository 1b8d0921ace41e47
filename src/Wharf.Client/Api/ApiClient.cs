using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Wharf.Client.Credentials;
using Wharf.Client.Registry;

namespace Wharf.Client.Api;

/// <summary>
/// A thin client of Wharf's REST API (<c>/api/v1/</c>) and token endpoint (<c>/auth/token</c>). Sends Basic credentials
/// (user and password or personal access token) or an identity token as bearer; problem details become <see cref="ApiException"/>.
/// </summary>
public class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    /// <param name="timeout">The longest a request may take, default 2 minutes (<see cref="Timeout.InfiniteTimeSpan"/> for streams).</param>
    public ApiClient(Uri server, RegistryCredential? credential, HttpMessageHandler? transport = null, TimeSpan? timeout = null)
    {
        Server = server;
        _http = new HttpClient(transport ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }) { BaseAddress = server, Timeout = timeout ?? TimeSpan.FromMinutes(2) };
        // An identity token (docker login's refresh token) is the REST API's bearer token; else Basic.
        if (credential is { HasIdentityToken: true }) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential.IdentityToken);
        else if (credential is not null) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", credential.BasicValue);
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("wharf", "1.0"));
    }

    public Uri Server { get; }

    /// <summary><c>POST /api/v1/users</c>: sign-up.</summary>
    public Task<UserInfo> SignUpAsync(string username, string password, string? email, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "api/v1/users", new SignUpRequest { Username = username, Password = password, Email = email },
            ApiJsonContext.Default.SignUpRequest, ApiJsonContext.Default.UserInfo, cancellationToken);

    /// <summary><c>GET /api/v1/user</c>: who the credentials belong to.</summary>
    public Task<UserInfo> GetCurrentUserAsync(CancellationToken cancellationToken) =>
        SendAsync<object, UserInfo>(HttpMethod.Get, "api/v1/user", null, null, ApiJsonContext.Default.UserInfo, cancellationToken);

    /// <summary><c>POST /api/v1/tokens</c>: a personal access token; its secret is in the answer, once.</summary>
    public Task<AccessTokenInfo> CreateTokenAsync(string name, IReadOnlyList<string> scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "api/v1/tokens", new CreateTokenRequest { Name = name, Scopes = [.. scopes], ExpiresAt = expiresAt },
            ApiJsonContext.Default.CreateTokenRequest, ApiJsonContext.Default.AccessTokenInfo, cancellationToken);

    /// <summary><c>GET /api/v1/tokens</c>, all pages.</summary>
    public async Task<IReadOnlyList<AccessTokenInfo>> ListTokensAsync(CancellationToken cancellationToken)
    {
        var all = new List<AccessTokenInfo>();
        string? cursor = null;
        do
        {
            var url = "api/v1/tokens" + (cursor is null ? "" : "?cursor=" + Uri.EscapeDataString(cursor));
            using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, url), cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (text.TrimStart().StartsWith('['))
            {
                all.AddRange(JsonSerializer.Deserialize(text, ApiJsonContext.Default.ListAccessTokenInfo) ?? []);
                break;
            }
            var page = JsonSerializer.Deserialize(text, ApiJsonContext.Default.TokenPage);
            all.AddRange(page?.Items ?? page?.Tokens ?? []);
            cursor = page?.NextCursor;
        }
        while (cursor is not null);
        return all;
    }

    /// <summary><c>DELETE /api/v1/tokens/{id}</c>.</summary>
    public async Task RevokeTokenAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/tokens/{Uri.EscapeDataString(id)}"), cancellationToken);
    }

    /// <summary><c>GET /api/v1/sessions</c>: the caller's sessions (refresh tokens of docker login and wharf login).</summary>
    public async Task<IReadOnlyList<SessionInfo>> ListSessionsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<object, SessionPage>(HttpMethod.Get, "api/v1/sessions", null, null, ApiJsonContext.Default.SessionPage, cancellationToken)).Sessions ?? [];

    /// <summary><c>DELETE /api/v1/sessions/{id}</c>; <c>current</c> is the session this client uses (log out).</summary>
    public async Task RevokeSessionAsync(string id, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/sessions/{Uri.EscapeDataString(id)}"), cancellationToken);
    }

    /// <summary><c>GET /api/v1/users</c>, all pages (administrators).</summary>
    public async Task<IReadOnlyList<AdminUserInfo>> ListUsersAsync(CancellationToken cancellationToken)
    {
        var all = new List<AdminUserInfo>();
        string? cursor = null;
        do
        {
            var page = await SendAsync<object, UserPage>(HttpMethod.Get, "api/v1/users?limit=500" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)),
                null, null, ApiJsonContext.Default.UserPage, cancellationToken);
            all.AddRange(page.Users ?? []);
            cursor = page.Users is { Count: > 0 } ? page.NextCursor : null;
        }
        while (cursor is not null);
        return all;
    }

    /// <summary><c>PATCH /api/v1/users/{name}</c> <c>{"disabled"}</c> (administrators).</summary>
    public Task<AdminUserInfo> SetUserDisabledAsync(string username, bool disabled, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Patch, $"api/v1/users/{Uri.EscapeDataString(username)}", new PatchUserRequest { Disabled = disabled },
            ApiJsonContext.Default.PatchUserRequest, ApiJsonContext.Default.AdminUserInfo, cancellationToken);

    /// <summary><c>POST /api/v1/users/{name}/unlock</c>: clears the user's failed-login limits (administrators).</summary>
    public Task<AdminUserInfo> UnlockUserAsync(string username, CancellationToken cancellationToken) =>
        SendAsync<object, AdminUserInfo>(HttpMethod.Post, $"api/v1/users/{Uri.EscapeDataString(username)}/unlock", null, null, ApiJsonContext.Default.AdminUserInfo, cancellationToken);

    /// <summary><c>DELETE /api/v1/users/{name}</c> (administrators).</summary>
    public Task<UserDeletionInfo> DeleteUserAsync(string username, CancellationToken cancellationToken) =>
        SendAsync<object, UserDeletionInfo>(HttpMethod.Delete, $"api/v1/users/{Uri.EscapeDataString(username)}", null, null, ApiJsonContext.Default.UserDeletionInfo, cancellationToken);

    /// <summary><c>POST /api/v1/repositories</c>: creates <c>namespace/name</c>; null <paramref name="visibility"/> leaves it to the server's default.</summary>
    public Task<RepositoryInfo> CreateRepositoryAsync(string @namespace, string name, string? visibility, string? description, string? readme, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "api/v1/repositories",
            new CreateRepositoryRequest { Namespace = @namespace, Name = name, Visibility = visibility, Description = description, Readme = readme },
            ApiJsonContext.Default.CreateRepositoryRequest, ApiJsonContext.Default.RepositoryInfo, cancellationToken);

    /// <summary>
    /// <c>GET /api/v1/search</c>: repositories the caller may pull, best match first, following <c>next_cursor</c> until
    /// <paramref name="limit"/> results (or the server's one page when null). The last page's cursor is returned, to go on from.
    /// </summary>
    public async Task<SearchPage> SearchAsync(string? query, string? @namespace, int? limit, CancellationToken cancellationToken)
    {
        var results = new List<RepositoryInfo>();
        string? cursor = null;
        do
        {
            var parameters = new List<string>();
            if (!string.IsNullOrEmpty(query)) parameters.Add("q=" + Uri.EscapeDataString(query));
            if (!string.IsNullOrEmpty(@namespace)) parameters.Add("namespace=" + Uri.EscapeDataString(@namespace));
            if (limit is { } l) parameters.Add("limit=" + (l - results.Count).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (cursor is not null) parameters.Add("cursor=" + Uri.EscapeDataString(cursor));
            var url = "api/v1/search" + (parameters.Count == 0 ? "" : "?" + string.Join('&', parameters));
            var page = await SendAsync<object, SearchPage>(HttpMethod.Get, url, null, null, ApiJsonContext.Default.SearchPage, cancellationToken);
            results.AddRange(page.Results ?? []);
            cursor = page.Results is { Count: > 0 } ? page.NextCursor : null;
        }
        while (limit is { } max && results.Count < max && cursor is not null);
        if (limit is { } cap && results.Count > cap) results.RemoveRange(cap, results.Count - cap);
        return new SearchPage { Query = query ?? "", Results = results, NextCursor = cursor };
    }

    /// <summary><c>GET /api/v1/repositories[?namespace=]</c>: repositories the caller may pull, by name, following <c>next_cursor</c> up to <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<RepositoryInfo>> ListRepositoriesAsync(string? @namespace, int? limit, CancellationToken cancellationToken)
    {
        var all = new List<RepositoryInfo>();
        string? cursor = null;
        do
        {
            var parameters = new List<string>();
            if (!string.IsNullOrEmpty(@namespace)) parameters.Add("namespace=" + Uri.EscapeDataString(@namespace));
            if (limit is { } l) parameters.Add("limit=" + Math.Min(100, l - all.Count).ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (cursor is not null) parameters.Add("cursor=" + Uri.EscapeDataString(cursor));
            var url = "api/v1/repositories" + (parameters.Count == 0 ? "" : "?" + string.Join('&', parameters));
            var page = await SendAsync<object, RepositoryPage>(HttpMethod.Get, url, null, null, ApiJsonContext.Default.RepositoryPage, cancellationToken);
            all.AddRange(page.Repositories ?? []);
            cursor = page.Repositories is { Count: > 0 } ? page.NextCursor : null;
        }
        while (cursor is not null && (limit is null || all.Count < limit));
        return all;
    }

    /// <summary><c>GET /api/v1/repositories/{name}</c>.</summary>
    public Task<RepositoryInfo> GetRepositoryAsync(string repository, CancellationToken cancellationToken) =>
        SendAsync<object, RepositoryInfo>(HttpMethod.Get, $"api/v1/repositories/{repository}", null, null, ApiJsonContext.Default.RepositoryInfo, cancellationToken);

    /// <summary><c>PATCH /api/v1/repositories/{name}</c>: visibility, description, README; null leaves a field as it is.</summary>
    public Task<RepositoryInfo> UpdateRepositoryAsync(string repository, UpdateRepositoryRequest update, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Patch, $"api/v1/repositories/{repository}", update, ApiJsonContext.Default.UpdateRepositoryRequest, ApiJsonContext.Default.RepositoryInfo, cancellationToken);

    /// <summary><c>DELETE /api/v1/repositories/{name}</c>: the repository, its tags and manifests.</summary>
    public Task DeleteRepositoryAsync(string repository, CancellationToken cancellationToken) =>
        SendNoContentAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/repositories/{repository}"), cancellationToken);

    /// <summary><c>POST /api/v1/orgs</c>: the caller becomes its owner.</summary>
    public Task<OrganizationInfo> CreateOrganizationAsync(string name, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "api/v1/orgs", new CreateOrganizationRequest { Name = name }, ApiJsonContext.Default.CreateOrganizationRequest, ApiJsonContext.Default.OrganizationInfo, cancellationToken);

    /// <summary><c>GET /api/v1/orgs</c>: the organizations the caller belongs to, with the caller's role.</summary>
    public async Task<IReadOnlyList<MembershipInfo>> ListOrganizationsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<object, OrganizationList>(HttpMethod.Get, "api/v1/orgs", null, null, ApiJsonContext.Default.OrganizationList, cancellationToken)).Organizations ?? [];

    /// <summary><c>GET /api/v1/orgs/{org}/members</c>.</summary>
    public async Task<IReadOnlyList<MemberInfo>> ListMembersAsync(string organization, CancellationToken cancellationToken) =>
        (await SendAsync<object, MemberList>(HttpMethod.Get, $"api/v1/orgs/{Uri.EscapeDataString(organization)}/members", null, null, ApiJsonContext.Default.MemberList, cancellationToken)).Members ?? [];

    /// <summary><c>PUT /api/v1/orgs/{org}/members/{user}</c> with a role (owner, maintainer, reader): adds or changes a member.</summary>
    public Task<OrganizationInfo> SetMemberAsync(string organization, string user, string role, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Put, $"api/v1/orgs/{Uri.EscapeDataString(organization)}/members/{Uri.EscapeDataString(user)}", new SetMemberRequest { Role = role },
            ApiJsonContext.Default.SetMemberRequest, ApiJsonContext.Default.OrganizationInfo, cancellationToken);

    /// <summary><c>DELETE /api/v1/orgs/{org}/members/{user}</c>.</summary>
    public Task<OrganizationInfo> RemoveMemberAsync(string organization, string user, CancellationToken cancellationToken) =>
        SendAsync<object, OrganizationInfo>(HttpMethod.Delete, $"api/v1/orgs/{Uri.EscapeDataString(organization)}/members/{Uri.EscapeDataString(user)}", null, null,
            ApiJsonContext.Default.OrganizationInfo, cancellationToken);

    /// <summary><c>PUT /api/v1/user/password</c>.</summary>
    public Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, "api/v1/user/password")
        {
            Content = JsonContent.Create(new ChangePasswordRequest { CurrentPassword = currentPassword, NewPassword = newPassword }, ApiJsonContext.Default.ChangePasswordRequest),
        };
        return SendNoContentAsync(request, cancellationToken);
    }

    /// <summary><c>POST /api/v1/registry-credentials</c>: a credential for an external registry, stored encrypted (a new one for the same host replaces it).</summary>
    public Task<RegistryCredentialInfo> AddRegistryCredentialAsync(string host, string username, string secret, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, "api/v1/registry-credentials", new CreateRegistryCredentialRequest { Host = host, Username = username, Secret = secret },
            ApiJsonContext.Default.CreateRegistryCredentialRequest, ApiJsonContext.Default.RegistryCredentialInfo, cancellationToken);

    /// <summary><c>GET /api/v1/registry-credentials</c> (never their secrets).</summary>
    public async Task<IReadOnlyList<RegistryCredentialInfo>> ListRegistryCredentialsAsync(CancellationToken cancellationToken) =>
        (await SendAsync<object, RegistryCredentialList>(HttpMethod.Get, "api/v1/registry-credentials", null, null, ApiJsonContext.Default.RegistryCredentialList, cancellationToken)).Credentials ?? [];

    /// <summary><c>DELETE /api/v1/registry-credentials/{id}</c>.</summary>
    public Task RemoveRegistryCredentialAsync(string id, CancellationToken cancellationToken) =>
        SendNoContentAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/v1/registry-credentials/{Uri.EscapeDataString(id)}"), cancellationToken);

    /// <summary><c>GET /api/v1/audit</c>, newest first, following <c>next_cursor</c> up to <paramref name="limit"/> events.</summary>
    public async Task<IReadOnlyList<AuditEvent>> ListAuditAsync(int limit, CancellationToken cancellationToken)
    {
        var all = new List<AuditEvent>();
        string? cursor = null;
        do
        {
            var url = $"api/v1/audit?limit={Math.Min(500, limit - all.Count).ToString(System.Globalization.CultureInfo.InvariantCulture)}"
                + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await SendAsync<object, AuditPage>(HttpMethod.Get, url, null, null, ApiJsonContext.Default.AuditPage, cancellationToken);
            all.AddRange(page.Events ?? []);
            cursor = page.Events is { Count: > 0 } ? page.NextCursor : null;
        }
        while (cursor is not null && all.Count < limit);
        return all;
    }

    private async Task SendNoContentAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(request, cancellationToken);
    }

    /// <summary><c>GET /auth/token</c> with the client's Basic credentials: proves them without touching the API.</summary>
    public async Task<TokenResponse> GetRegistryTokenAsync(string service, string? scope, CancellationToken cancellationToken)
    {
        var url = $"auth/token?service={Uri.EscapeDataString(service)}" + (scope is null ? "" : "&scope=" + Uri.EscapeDataString(scope));
        using var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, url), cancellationToken);
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonSerializer.DeserializeAsync(body, ApiJsonContext.Default.TokenResponse, cancellationToken)
            ?? throw new WharfClientException(ClientErrorKind.Failure, "The token endpoint answered an empty body.");
    }

    protected async Task<TResponse> SendAsync<TRequest, TResponse>(HttpMethod method, string url, TRequest? body, JsonTypeInfo<TRequest>? requestType,
        JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, url);
        if (body is not null && requestType is not null) request.Content = JsonContent.Create(body, requestType);
        using var response = await SendRawAsync(request, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        try
        {
            return await JsonSerializer.DeserializeAsync(stream, responseType, cancellationToken)
                ?? throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered an empty body.");
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered something that is not the expected JSON: {e.Message}");
        }
    }

    /// <summary>Sends <paramref name="body"/> (when given) and reads the answer as a JSON node, for APIs the CLI shows as they come.</summary>
    protected async Task<System.Text.Json.Nodes.JsonNode> SendJsonNodeAsync(HttpMethod method, string url, System.Text.Json.Nodes.JsonNode? body, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, url);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
        using var response = await SendRawAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(text) ?? throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered an empty body.");
        }
        catch (JsonException e)
        {
            throw new WharfClientException(ClientErrorKind.Failure, $"{method} /{url} answered something that is not JSON: {e.Message}");
        }
    }

    /// <summary>Sends, and throws <see cref="ApiException"/> unless the answer is 2xx.</summary>
    protected async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, CancellationToken cancellationToken,
        HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        HttpResponseMessage response;
        try
        {
            using (request) response = await _http.SendAsync(request, completion, cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException || e.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            throw new WharfClientException(ClientErrorKind.Unreachable,
                $"Cannot reach the server at {Server.ToString().TrimEnd('/')}: {e.Message}. Is it running? Check --server or WHARF_SERVER.", e);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            ProblemDetails? problem = null;
            try
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (text.TrimStart().StartsWith('{')) problem = JsonSerializer.Deserialize(text, ApiJsonContext.Default.ProblemDetails);
            }
            catch (JsonException)
            {
            }
            var detail = problem?.Detail;
            if (detail is null && response.StatusCode == HttpStatusCode.Unauthorized) detail = "The server did not accept the credentials: run 'wharf login' first.";
            if (detail is null && response.StatusCode == HttpStatusCode.NotFound) detail = $"{request.RequestUri} does not exist on {Server} (is it a Wharf server with the accounts API?).";
            throw new ApiException(response.StatusCode, problem?.Title, detail);
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        GC.SuppressFinalize(this);
    }
}
