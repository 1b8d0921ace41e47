using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Web.Tests;

/// <summary>
/// One Wharf in accounts mode (what <c>wharf serve</c> runs) with a build worker (real buildah), the administrator's
/// public <c>library/busybox</c> base image, one headless Chromium (Debian's, driven by Playwright) and one private
/// dockerd, shared by every browser test in the <see cref="WebUiCollection"/>.
/// </summary>
public sealed class WebUiFixture : IAsyncLifetime
{
    public static readonly RegistryCredentials Admin = new("boss", "boss-password-1");

    private readonly CancellationTokenSource _setup = new(TimeSpan.FromMinutes(3));
    private int _users;

    public WharfTestServer Server { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public DockerDaemonFixture Docker { get; } = new();

    public string BaseUrl => Server.BaseUrl;

    public string Host => Server.HostPort;

    public async Task InitializeAsync()
    {
        var docker = Docker.InitializeAsync();
        try
        {
            await StartAsync(_setup.Token);
            await docker;
        }
        catch
        {
            // xunit does not dispose a fixture whose start failed: stop what did start (dockerd above all).
            try { await docker; } catch (Exception e) when (e is not OutOfMemoryException) { }
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync(CancellationToken ct)
    {
        Server = await WharfTestServer.StartAsync(AuthMode.Accounts, null,
            "--Wharf:Builds:PollInterval=00:00:00.200", "--Wharf:Builds:PushRetryDelay=00:00:00.200");
        await SignUpAsync(Admin, ct);
        await CreateRepositoryAsync(Admin, "library", "busybox", "public", ct);
        await using (var layout = TempDirectory.Create("bbox"))
        {
            var image = await TestImages.Busybox().WriteOciLayoutAsync(layout.Combine("layout"), "latest", ct);
            await Skopeo.CopyAsync(image.Reference, $"docker://{Host}/library/busybox:latest", Registry(Admin), ct);
        }
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExternalTool.RequireTool("chromium"),
            Headless = true,
            Args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        await Docker.DisposeAsync();
        if (Server is not null) await Server.DisposeAsync();
        _setup.Dispose();
    }

    private readonly Dictionary<string, Task<object>> _shared = new(StringComparer.Ordinal);

    /// <summary>Content made once and used by several tests of a class (made by the first that asks).</summary>
    public async Task<T> SharedAsync<T>(string key, Func<Task<T>> make) where T : class
    {
        Task<object> task;
        lock (_shared)
        {
            if (!_shared.TryGetValue(key, out task!)) _shared[key] = task = Make();
        }
        return (T)await task;

        async Task<object> Make() => await make();
    }

    /// <summary>A fresh user name for one test, so tests never share accounts.</summary>
    public RegistryCredentials NewUser(string prefix) => new($"{prefix}{Interlocked.Increment(ref _users)}", $"{prefix}-password-{Guid.NewGuid():N}"[..24]);

    public IRegistryEndpoint Registry(RegistryCredentials? user) => new RegistryEndpoint(NoDispose.Instance, Host, BaseUrl, user);

    /// <summary>A browser context (its own cookies) with a page, at desktop size unless told otherwise.</summary>
    public async Task<IPage> NewPageAsync(ColorScheme scheme = ColorScheme.Light, int width = 1280, int height = 860)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ColorScheme = scheme,
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>
    /// How long a test waits for a page to arrive: until its HTML is parsed (not for every stylesheet and image, which on
    /// a loaded machine can take longer than the page), generously, yet finite on a real hang.
    /// </summary>
    private static readonly PageWaitForURLOptions UrlWait = new() { Timeout = 60_000, WaitUntil = WaitUntilState.DOMContentLoaded };

    /// <summary>Signs in through the form.</summary>
    public static async Task SignInAsync(IPage page, RegistryCredentials user)
    {
        await page.GotoAsync("/login");
        await page.GetByLabel("User name").FillAsync(user.UserName);
        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        try
        {
            await page.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal), UrlWait);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Signing in as {user.UserName} stayed on {page.Url}:\n{await page.Locator("main").InnerTextAsync()}");
        }
    }

    /// <summary>Waits for the page to reach a URL; on failure the message says where it is and what it shows.</summary>
    public static async Task ExpectUrlAsync(IPage page, string glob)
    {
        try
        {
            await page.WaitForURLAsync(glob, UrlWait);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"Expected {glob}, but the page is {page.Url}:\n{await page.Locator("main").InnerTextAsync()}");
        }
    }

    /// <summary>A page signed in as a new user made through the API (for tests about something else than sign-up).</summary>
    public async Task<(IPage Page, RegistryCredentials User)> SignedInPageAsync(string prefix, ColorScheme scheme = ColorScheme.Light, int width = 1280, int height = 860)
    {
        var user = NewUser(prefix);
        await SignUpAsync(user, CancellationToken.None);
        var page = await NewPageAsync(scheme, width, height);
        await SignInAsync(page, user);
        return (page, user);
    }

    public HttpClient Http(RegistryCredentials? user = null)
    {
        var http = Server.CreateClient();
        if (user is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user.AsCredsArgument)));
        return http;
    }

    public async Task SignUpAsync(RegistryCredentials user, CancellationToken ct)
    {
        using var http = Http();
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = user.UserName, ["password"] = user.Password });
        using var response = await http.PostAsync("api/v1/users", new StringContent(body, Encoding.UTF8, "application/json"), ct);
        Assert.True(response.IsSuccessStatusCode, $"sign-up of {user.UserName}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
    }

    public async Task CreateRepositoryAsync(RegistryCredentials user, string @namespace, string name, string visibility, CancellationToken ct, string? readme = null, string? description = null)
    {
        using var http = Http(user);
        var fields = new Dictionary<string, string> { ["namespace"] = @namespace, ["name"] = name, ["visibility"] = visibility };
        if (readme is not null) fields["readme"] = readme;
        if (description is not null) fields["description"] = description;
        using var response = await http.PostAsync("api/v1/repositories", new StringContent(JsonSerializer.Serialize(fields), Encoding.UTF8, "application/json"), ct);
        Assert.True(response.IsSuccessStatusCode, $"create {@namespace}/{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
    }

    /// <summary>Pushes a small random image with skopeo (for pages that need tags but are not about pushing).</summary>
    public async Task<OciImage> PushImageAsync(RegistryCredentials user, string repository, string tag, CancellationToken ct, string? architecture = null)
    {
        await using var layout = TempDirectory.Create("img");
        var image = await TestImages.RandomImage(new RandomImageOptions { Layers = 2, LayerSize = 16 * 1024, Architecture = architecture })
            .WriteOciLayoutAsync(layout.Combine("layout"), tag, ct);
        await Skopeo.CopyAsync(image.Reference, $"docker://{Host}/{repository}:{tag}", Registry(user), ct);
        return image;
    }

    /// <summary>Pushes an index of two platforms (amd64 and arm64) as <paramref name="tag"/>; returns the children's digests.</summary>
    public async Task<(string Amd64, string Arm64)> PushIndexAsync(RegistryCredentials user, string repository, string tag, CancellationToken ct)
    {
        var amd = await PushImageAsync(user, repository, tag + "-amd64", ct, "amd64");
        var arm = await PushImageAsync(user, repository, tag + "-arm64", ct, "arm64");
        var index = JsonSerializer.Serialize(new
        {
            schemaVersion = 2,
            mediaType = "application/vnd.oci.image.index.v1+json",
            manifests = new object[]
            {
                new { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = amd.ManifestDigest, size = amd.ManifestSize, platform = new { os = "linux", architecture = "amd64" } },
                new { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = arm.ManifestDigest, size = arm.ManifestSize, platform = new { os = "linux", architecture = "arm64" } },
            },
        });
        using var http = Http(user);
        using var content = new StringContent(index, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.index.v1+json");
        using var response = await http.PutAsync($"v2/{repository}/manifests/{tag}", content, ct);
        Assert.True(response.IsSuccessStatusCode, $"index push: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        return (amd.ManifestDigest, arm.ManifestDigest);
    }

    private sealed class NoDispose : IAsyncDisposable
    {
        public static readonly NoDispose Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>Browser tests share one server, one Chromium and one dockerd, and run one class after another.</summary>
[CollectionDefinition(Name)]
public sealed class WebUiCollection : ICollectionFixture<WebUiFixture>
{
    public const string Name = "Web UI";
}
