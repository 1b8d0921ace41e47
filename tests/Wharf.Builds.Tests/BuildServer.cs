using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Builds.Tests;

/// <summary>
/// A real Wharf with build workers on loopback, with the busybox base image pushed into it as
/// <c>library/busybox:latest</c>, and helpers to submit builds and wait for them.
/// </summary>
public sealed class BuildServer : IAsyncDisposable
{
    private readonly bool _ownsServer;
    private readonly WharfTestServer? _server;

    private BuildServer(WharfTestServer server, RegistryCredentials? credentials = null, bool ownsServer = true)
        : this(server.CreateClient(), server.HostPort, credentials)
    {
        _server = server;
        _ownsServer = ownsServer;
    }

    private BuildServer(HttpClient http, string hostPort, RegistryCredentials? credentials)
    {
        HostPort = hostPort;
        Credentials = credentials;
        Http = http;
        if (credentials is not null)
        {
            Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials.AsCredsArgument)));
        }
    }

    /// <summary>The user this view acts as (Basic credentials on <see cref="Http"/>), or null for anonymous.</summary>
    public RegistryCredentials? Credentials { get; }

    /// <summary>The in-process server; not there for a view of a <see cref="ServeProcess"/>.</summary>
    public WharfTestServer Server => _server ?? throw new InvalidOperationException("This view talks to a wharf serve process.");

    /// <summary>127.0.0.1:PORT of the server.</summary>
    public string HostPort { get; }

    public HttpClient Http { get; private set; }

    /// <summary>The base image every test Dockerfile starts FROM.</summary>
    public string BaseImage => $"{HostPort}/library/busybox:latest";

    public IRegistryEndpoint Registry => new RegistryEndpoint(NoDispose.Instance, HostPort, $"http://{HostPort}", Credentials);

    /// <summary>A view of a <c>wharf serve</c> process (open mode), with the busybox base image pushed into it.</summary>
    public static async Task<BuildServer> OverAsync(ServeProcess serve, CancellationToken ct, bool pushBase = true)
    {
        if (pushBase)
        {
            await using var layout = TempDirectory.Create("bbox");
            var image = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{serve.HostPort}/library/busybox:latest", null, ct);
        }
        return new BuildServer(new HttpClient { BaseAddress = new Uri($"http://{serve.HostPort}/"), Timeout = TimeSpan.FromMinutes(2) }, serve.HostPort, null);
    }

    /// <summary>The administrator of <see cref="StartAccountsAsync"/>'s server (the first account).</summary>
    public static readonly RegistryCredentials Admin = new("boss", "boss-password-1");

    public static async Task<BuildServer> StartAsync(CancellationToken ct, string? dataDir = null, params string[] args) =>
        await WithBaseImageAsync(await WharfTestServer.StartAsync(dataDir, ["--Wharf:Builds:PollInterval=00:00:00.200", "--Wharf:Builds:PushRetryDelay=00:00:00.200", "--Wharf:Builds:Workers=1", .. args]), ct);

    /// <summary>Like <see cref="StartAsync(CancellationToken, string?, string[])"/> (open mode) on the given providers.</summary>
    public static async Task<BuildServer> StartOnAsync(WharfTestProviders providers, CancellationToken ct, params string[] args) =>
        await WithBaseImageAsync(await WharfTestServer.StartOnAsync(providers, AuthMode.Open, ["--Wharf:Builds:PollInterval=00:00:00.200", "--Wharf:Builds:PushRetryDelay=00:00:00.200", "--Wharf:Builds:Workers=1", .. args]), ct);

    /// <summary>Another node on this server's database (see <see cref="WharfTestServer.StartAnotherNodeAsync(string[])"/>); disposing it stops only that node.</summary>
    public async Task<BuildServer> StartAnotherNodeAsync(params string[] args) => new(await Server.StartAnotherNodeAsync(args));

    private static async Task<BuildServer> WithBaseImageAsync(WharfTestServer server, CancellationToken ct)
    {
        try
        {
            await using var layout = TempDirectory.Create("bbox");
            var image = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{server.HostPort}/library/busybox:latest", null, ct);
            return new BuildServer(server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A real Wharf in accounts mode (what <c>wharf serve</c> runs by default) with build workers. The administrator
    /// (<see cref="Admin"/>, the first account) pushes the busybox base image as the PUBLIC repository
    /// <c>library/busybox</c> (a root-namespace name only administrators may push). The returned view is anonymous.
    /// </summary>
    public static async Task<BuildServer> StartAccountsAsync(CancellationToken ct, params string[] args)
    {
        var server = await WharfTestServer.StartAsync(AuthMode.Accounts, null, ["--Wharf:Builds:PollInterval=00:00:00.200", "--Wharf:Builds:PushRetryDelay=00:00:00.200", "--Wharf:Builds:Workers=1", .. args]);
        try
        {
            var anonymous = new BuildServer(server);
            await anonymous.SignUpAsync(Admin, ct);
            await using var admin = anonymous.As(Admin);
            await admin.CreateRepositoryAsync("library", "busybox", "public", ct);
            await using var layout = TempDirectory.Create("bbox");
            var image = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{server.HostPort}/library/busybox:latest", admin.Registry, ct);
            return anonymous;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>POST /api/v1/users</c>, failing the test on anything but success.</summary>
    public async Task SignUpAsync(RegistryCredentials user, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = user.UserName, ["password"] = user.Password });
        using var response = await Http.PostAsync("api/v1/users", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        Assert.True(response.IsSuccessStatusCode, $"sign-up of {user.UserName}: {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary><c>POST /api/v1/repositories</c> as this view's user, failing the test on anything but success.</summary>
    public async Task CreateRepositoryAsync(string @namespace, string name, string visibility, CancellationToken ct)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["namespace"] = @namespace, ["name"] = name, ["visibility"] = visibility });
        using var response = await Http.PostAsync("api/v1/repositories", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        Assert.True(response.IsSuccessStatusCode, $"create {@namespace}/{name}: {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>A view of the same server acting as <paramref name="user"/> (Basic credentials); disposing it leaves the server running.</summary>
    public BuildServer As(RegistryCredentials? user) => new(Server, user, ownsServer: false);

    public async Task RestartAsync()
    {
        await Server.RestartAsync();
        Http.Dispose();
        Http = Server.CreateClient();
    }

    /// <summary>POST /api/v1/builds with a Dockerfile alone.</summary>
    public Task<HttpResponseMessage> SubmitDockerfileAsync(string dockerfile, string image, CancellationToken ct, IDictionary<string, string>? fields = null) =>
        SubmitAsync("dockerfile", Encoding.UTF8.GetBytes(dockerfile), image, ct, fields);

    /// <summary>POST /api/v1/builds with a context archive.</summary>
    public Task<HttpResponseMessage> SubmitContextAsync(byte[] archive, string image, CancellationToken ct, IDictionary<string, string>? fields = null) =>
        SubmitAsync("context", archive, image, ct, fields);

    private async Task<HttpResponseMessage> SubmitAsync(string part, byte[] content, string image, CancellationToken ct, IDictionary<string, string>? fields)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, part, part == "context" ? "context.tar" : "Dockerfile");
        form.Add(new StringContent(image), "image");
        foreach (var (key, value) in fields ?? new Dictionary<string, string>()) form.Add(new StringContent(value), key);
        return await Http.PostAsync("api/v1/builds", form, ct);
    }

    /// <summary>Submits and returns the new build's id, failing the test on anything but 201.</summary>
    public async Task<string> SubmitOkAsync(string dockerfile, string image, CancellationToken ct, IDictionary<string, string>? fields = null)
    {
        using var response = await SubmitDockerfileAsync(dockerfile, image, ct, fields);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["id"]!.GetValue<string>();
    }

    public async Task<JsonNode> GetBuildAsync(string id, CancellationToken ct)
    {
        var text = await Http.GetStringAsync($"api/v1/builds/{id}", ct);
        return JsonNode.Parse(text)!;
    }

    /// <summary>Polls until the build's state is final; returns it.</summary>
    public async Task<JsonNode> WaitForEndAsync(string id, CancellationToken ct, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(3));
        while (true)
        {
            var build = await GetBuildAsync(id, ct);
            var state = build["state"]!.GetValue<string>();
            if (state is not ("queued" or "running")) return build;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Build {id} still {state}: {build.ToJsonString()}\n{await LogsAsync(id, ct)}");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Polls until the build is running its build phase (a RUN step may be under way).</summary>
    public async Task WaitForStateAsync(string id, string state, CancellationToken ct, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(2));
        while (true)
        {
            var build = await GetBuildAsync(id, ct);
            if (build["state"]!.GetValue<string>() == state) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Build {id} never became {state}: {build.ToJsonString()}");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Waits until the build's log has a line containing <paramref name="text"/> (more than <paramref name="after"/> such lines).</summary>
    public async Task WaitForLogAsync(string id, string text, CancellationToken ct, TimeSpan? timeout = null, int after = 0)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(2));
        while ((await LogsAsync(id, ct)).Split('\n').Count(l => l.Contains(text, StringComparison.Ordinal)) <= after)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Build {id} never logged '{text}':\n{await LogsAsync(id, ct)}");
            await Task.Delay(100, ct);
        }
    }

    public Task<string> LogsAsync(string id, CancellationToken ct) => Http.GetStringAsync($"api/v1/builds/{id}/logs", ct);

    /// <summary>Asserts a build succeeded, with its log in the message when it did not.</summary>
    public async Task<JsonNode> AssertSucceededAsync(string id, CancellationToken ct, TimeSpan? timeout = null)
    {
        var build = await WaitForEndAsync(id, ct, timeout);
        Assert.True(build["state"]!.GetValue<string>() == "succeeded", $"{build.ToJsonString()}\n{await LogsAsync(id, ct)}");
        return build;
    }

    /// <summary>Reads a file out of a pushed image's layers (the last layer holding it wins).</summary>
    public static async Task<string?> ReadFileFromImageAsync(IRegistryEndpoint registry, string repository, string tag, string path, CancellationToken ct)
    {
        var manifest = await RegistryHttp.GetManifestAsync(registry, repository, tag, ct);
        using var json = JsonDocument.Parse(manifest.Content);
        string? found = null;
        foreach (var layer in json.RootElement.GetProperty("layers").EnumerateArray())
        {
            var blob = await RegistryHttp.GetBlobAsync(registry, repository, layer.GetProperty("digest").GetString()!, ct);
            Stream stream = new MemoryStream(blob);
            if (blob.Length > 2 && blob[0] == 0x1f && blob[1] == 0x8b) stream = new System.IO.Compression.GZipStream(stream, System.IO.Compression.CompressionMode.Decompress);
            await using var reader = new System.Formats.Tar.TarReader(stream);
            while (await reader.GetNextEntryAsync(copyData: true, ct) is { } entry)
            {
                if (entry.Name.TrimStart('.', '/') == path.TrimStart('/') && entry.DataStream is { } data)
                {
                    using var text = new StreamReader(data);
                    found = await text.ReadToEndAsync(ct);
                }
            }
        }
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (_ownsServer && _server is not null) await _server.DisposeAsync();
    }

    private sealed class NoDispose : IAsyncDisposable
    {
        public static readonly NoDispose Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
