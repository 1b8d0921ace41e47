using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Server.Tests.Accounts;
using Wharf.Testing;

namespace Wharf.Server.Tests.Api;

/// <summary>Tests that measure this process's memory run alone, so that no other test's allocations blur the figures.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasuringCollection
{
    public const string Name = "memory measuring";
}

/// <summary>Every request body is bounded while it is read: chunked bodies too, and forms of the token endpoint.</summary>
[Collection(MemoryMeasuringCollection.Name)]
public sealed class RequestBodyLimitTests : IAsyncLifetime
{
    private const long FourHundredMiB = 400L * 1024 * 1024;

    /// <summary>What the server may grow by while refusing a 400 MiB body (the refused body is at most 1 MiB; the rest is noise).</summary>
    private const long AllowedGrowth = 64L * 1024 * 1024;

    private AccountsHttp _http = null!;

    public async Task InitializeAsync()
    {
        _http = new AccountsHttp(await WharfTestServer.StartAsync(AuthMode.Accounts));
        await _http.SignUpAsync("boss");
    }

    public async Task DisposeAsync() => await _http.Server.DisposeAsync();

    private int Port => new Uri(_http.Server.BaseUrl).Port;

    [Fact]
    public async Task An_anonymous_400_MiB_chunked_body_to_an_api_route_is_refused_without_the_server_growing()
    {
        var (outcome, growth) = await MeasureAsync(() => RawHttp.SendChunkedAsync(Port,
            "POST /api/v1/registry-credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json",
            "{\"host\":\"127.0.0.1:5999\",\"username\":\"u\",\"secret\":\""u8.ToArray(), FourHundredMiB, CancellationToken.None));
        Assert.True(outcome.Response is { Status: 401 }, $"answer: {outcome.Response?.Status} {outcome.Response?.Body}");
        Assert.True(outcome.BytesSent < FourHundredMiB / 4, $"the server read {outcome.BytesSent} bytes of a body it refused");
        Assert.True(growth.Heap < AllowedGrowth && growth.Rss < 2 * AllowedGrowth, growth.ToString());
    }

    [Fact]
    public async Task A_signed_in_400_MiB_chunked_json_body_is_cut_off_at_the_group_limit_with_413()
    {
        var auth = AccountsHttp.BasicHeader("boss", AccountsHttp.Password).ToString();
        var (outcome, growth) = await MeasureAsync(() => RawHttp.SendChunkedAsync(Port,
            $"POST /api/v1/repositories HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: {auth}",
            "{\"namespace\":\"boss\",\"name\":\"big\",\"readme\":\""u8.ToArray(), FourHundredMiB, CancellationToken.None));
        Assert.True(outcome.Response is { Status: 413 }, $"answer: {outcome.Response?.Status} {outcome.Response?.Body}");
        Assert.Contains("application/problem+json", outcome.Response!.Headers, StringComparison.OrdinalIgnoreCase);
        Assert.True(outcome.BytesSent < FourHundredMiB / 4, $"the server read {outcome.BytesSent} bytes before refusing");
        Assert.True(growth.Heap < AllowedGrowth && growth.Rss < 2 * AllowedGrowth, growth.ToString());
        using var boss = _http.Basic("boss");
        using var absent = await boss.GetAsync("api/v1/repositories/boss/big");
        Assert.Equal(HttpStatusCode.NotFound, absent.StatusCode);
    }

    [Fact]
    public async Task A_json_body_over_the_limit_with_a_content_length_is_refused_before_it_is_read()
    {
        using var boss = _http.Basic("boss");
        var readme = new string('a', 2 * 1024 * 1024);
        using var response = await boss.PostAsJsonAsync("api/v1/repositories", new { @namespace = "boss", name = "big", readme });
        await ApiErrorPipelineTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task A_token_form_with_a_5_MiB_value_answers_the_oauth_error_shape()
    {
        // Sent by hand: the server answers and closes before the 5 MiB are through, which HttpClient reports as a broken pipe.
        var outcome = await RawHttp.SendChunkedAsync(Port, "POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded",
            "grant_type=password&client_id=test&username=boss&password="u8.ToArray(), 5 * 1024 * 1024, CancellationToken.None);
        Assert.True(outcome.Response is { Status: 413 }, $"answer: {outcome.Response?.Status} {outcome.Response?.Body}");
        var error = JsonDocument.Parse(outcome.Response!.Body).RootElement;
        Assert.Equal("invalid_request", error.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error_description").GetString()));
    }

    [Fact]
    public async Task A_token_form_with_more_than_1024_fields_answers_the_oauth_error_shape()
    {
        using var anonymous = _http.Anonymous();
        var form = "grant_type=password&client_id=test&username=boss&password=x&" + string.Join('&', Enumerable.Range(0, 1100).Select(i => $"f{i}=1"));
        using var response = await anonymous.PostAsync("auth/token", new StringContent(form, Encoding.ASCII, "application/x-www-form-urlencoded"));
        await AssertOAuthErrorAsync(response, HttpStatusCode.BadRequest);
    }

    private static async Task AssertOAuthErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        var error = JsonDocument.Parse(body).RootElement;
        Assert.Equal("invalid_request", error.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error_description").GetString()));
    }

    private sealed record Growth(long Heap, long Rss)
    {
        public override string ToString() => $"managed heap grew by {Heap / (1024 * 1024)} MiB, RSS by {Rss / (1024 * 1024)} MiB at their peaks";
    }

    /// <summary>Runs <paramref name="work"/> while sampling this process (the server runs in it): the peak growth of the managed heap and of RSS.</summary>
    private static async Task<(T Result, Growth Growth)> MeasureAsync<T>(Func<Task<T>> work)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        process.Refresh();
        var rssBefore = process.WorkingSet64;
        long heapPeak = heapBefore, rssPeak = rssBefore;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var every = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
            do
            {
                heapPeak = Math.Max(heapPeak, GC.GetTotalMemory(false));
                process.Refresh();
                rssPeak = Math.Max(rssPeak, process.WorkingSet64);
            }
            while (!stop.IsCancellationRequested && await every.WaitForNextTickAsync(CancellationToken.None));
        });
        T result;
        try
        {
            result = await work();
        }
        finally
        {
            stop.Cancel();
            await sampler;
        }
        return (result, new Growth(heapPeak - heapBefore, rssPeak - rssBefore));
    }
}
