using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Wharf.Core.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Accounts;

/// <summary>Expiry, judged on the server's clock: a fake <see cref="TimeProvider"/> moves it instead of the test sleeping.</summary>
public sealed class AccountsClockTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2030, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        // Registered before Wharf's own services: Wharf adds the system clock only when none is there (TryAdd).
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts, null, [], builder => builder.Services.AddSingleton<TimeProvider>(_clock)));
        await _http.SignUpAsync("alice");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    [Fact]
    public void The_server_runs_on_the_clock_the_test_registered() =>
        Assert.Same(_clock, _http.Server.Services.GetRequiredService<TimeProvider>());

    [Fact]
    public async Task A_token_works_until_its_expiry_and_is_refused_after()
    {
        using var alice = _http.Basic("alice");
        using var created = await alice.PostAsJsonAsync("api/v1/tokens", new { name = "short", scopes = new[] { "pull" }, expires_at = _clock.GetUtcNow().AddMinutes(10) });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var secret = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var bearer = _http.Bearer(secret);

        _clock.Advance(TimeSpan.FromMinutes(9));
        using (var valid = await bearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        _clock.Advance(TimeSpan.FromMinutes(2));
        using (var refused = await bearer.GetAsync("api/v1/user")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task An_expiry_in_the_past_of_the_servers_clock_is_refused_when_the_token_is_made()
    {
        using var alice = _http.Basic("alice");
        using var created = await alice.PostAsJsonAsync("api/v1/tokens", new { name = "stale", scopes = new[] { "pull" }, expires_at = _clock.GetUtcNow().AddSeconds(-1) });
        Assert.Equal(HttpStatusCode.BadRequest, created.StatusCode);
    }
}
