using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Wharf.Core.Accounts;
using Wharf.Core.Digests;
using Wharf.Core.Registry;
using Wharf.Data.Sqlite;
using Wharf.Server;

// bench/catalog: seeds a data folder, starts Wharf on it and times pages of search, tag listings and the catalog.
var repositories = Arg("BENCH_REPOSITORIES", 100_000);
var tagCount = Arg("BENCH_TAGS", 100_000);
var requests = Arg("BENCH_REQUESTS", 200);
// BENCH_DATABASE=PostgreSql seeds and serves from PostgreSQL instead: BENCH_POSTGRES is the Npgsql connection string
// of a user that may create databases (bench/catalog starts a throwaway server and sets it).
var onPostgreSql = string.Equals(Environment.GetEnvironmentVariable("BENCH_DATABASE"), "PostgreSql", StringComparison.OrdinalIgnoreCase);
var markdown = Environment.GetEnvironmentVariable("BENCH_MARKDOWN")
    ?? Path.Combine(Directory.GetCurrentDirectory(), "docs", onPostgreSql ? "benchmarks-catalog-postgresql.md" : "benchmarks-catalog.md");
var dataDir = Directory.CreateTempSubdirectory("wharf-catalog-bench-").FullName;
var loadAtStart = LoadAverage();
try
{
    var seedTime = Stopwatch.StartNew();
    var seededAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    string[] databaseArgs = [];
    if (onPostgreSql)
    {
        var admin = Environment.GetEnvironmentVariable("BENCH_POSTGRES") ?? throw new InvalidOperationException("BENCH_DATABASE=PostgreSql needs BENCH_POSTGRES, an Npgsql connection string.");
        Console.WriteLine($"seeding {repositories:N0} repositories and {tagCount:N0} tags into PostgreSQL");
        var connectionString = await PostgreSqlSeed.SeedAsync(admin, repositories, tagCount, seededAt, RepositoryName, Tag);
        databaseArgs = ["--Wharf:Database:Type=PostgreSql", $"--Wharf:Database:ConnectionString={connectionString}"];
    }
    else
    {
        Console.WriteLine($"seeding {repositories:N0} repositories and {tagCount:N0} tags into {dataDir}");
        await SeedAsync(dataDir, repositories, tagCount, seededAt);
    }
    Console.WriteLine($"seeded in {seedTime.Elapsed.TotalSeconds:F1} s");

    // Accounts mode, as `wharf serve` runs by default. Listings are requested anonymously (public repositories only:
    // the filtered path a visitor or docker search takes), the catalog, which needs a login, by a signed-up user.
    var app = await WharfServer.StartAsync(["--urls", "http://127.0.0.1:0", "--data-dir", dataDir, "--Wharf:Auth:Mode=Accounts", .. databaseArgs], CancellationToken.None,
        builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
    var baseUrl = WharfServer.BoundAddresses(app).First().TrimEnd('/');
    using var http = new HttpClient { BaseAddress = new Uri(baseUrl + "/") };
    using var visitor = new HttpClient { BaseAddress = new Uri(baseUrl + "/") };
    foreach (var user in new[] { "benchadmin", "visitor" })
    {
        using var signup = await http.PostAsync("api/v1/users",
            new StringContent($$"""{"username":"{{user}}","password":"bench-password-1"}""", Encoding.UTF8, "application/json"));
        if (!signup.IsSuccessStatusCode) throw new InvalidOperationException($"sign-up of {user} answered {(int)signup.StatusCode}");
    }
    visitor.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
        Convert.ToBase64String(Encoding.UTF8.GetBytes("visitor:bench-password-1")));
    var anonymous = http;
    var random = new Random(42);
    var results = new List<(string Workload, string Example, Stats Stats, string Note)>();

    async Task MeasureAsync(string workload, Func<int, string> url, string note = "", HttpClient? client = null)
    {
        var http = client ?? anonymous;
        for (var i = 0; i < 20; i++) await GetAsync(http, url(i)); // warm-up
        var times = new double[requests];
        var items = 0L;
        for (var i = 0; i < requests; i++)
        {
            var started = Stopwatch.GetTimestamp();
            items += await GetAsync(http, url(i));
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        var stats = Stats.Of(times, items / (double)requests);
        results.Add((workload, url(0), stats, note));
        Console.WriteLine($"{workload,-52} median {stats.Median,7:F2} ms  p95 {stats.P95,7:F2} ms  max {stats.Max,7:F2} ms  items/page {stats.Items,6:F1}");
    }

    string RandomTag() => Tag(random.Next(tagCount));
    string RandomRepository() => RepositoryName(random.Next(repositories));

    foreach (var (q, note) in new[]
             {
                 ("kestrel", "a noun: ~1% of names"),
                 ("amber", "an adjective: ~1% of names"),
                 ("amber kestrel", "two words, both required"),
                 ("kes", "a prefix"),
                 ("team42", "a namespace"),
                 ("service", "in every description: ranks all 100,000"),
             })
    {
        await MeasureAsync($"/api/v1/search?q={q}&limit=25", _ => $"api/v1/search?q={Uri.EscapeDataString(q)}&limit=25", note);
    }
    await MeasureAsync("/v1/search?q=kestrel&n=25 (docker search)", _ => "v1/search?q=kestrel&n=25", "with num_results count");
    await MeasureAsync("/api/v1/repositories/bench/many-tags/tags?limit=100", i => i % 2 == 0
        ? "api/v1/repositories/bench/many-tags/tags?limit=100"
        : $"api/v1/repositories/bench/many-tags/tags?limit=100&cursor={Cursor(RandomTag())}", "first page and random cursors");
    await MeasureAsync("/v2/bench/many-tags/tags/list?n=100&last=…", _ => $"v2/bench/many-tags/tags/list?n=100&last={RandomTag()}", "random last");
    await MeasureAsync("/v2/_catalog?n=100&last=…", _ => $"v2/_catalog?n=100&last={Uri.EscapeDataString(RandomRepository())}", "random last; a signed-up user: public and own", visitor);
    await MeasureAsync("/api/v1/repositories?limit=100&cursor=…", _ => $"api/v1/repositories?limit=100&cursor={Cursor(RandomRepository())}", "random cursor; anonymous: public only");

    // The web UI's pages (issue: under 50 ms each, every page under 200 KB before caching), as an anonymous visitor.
    var pages = new List<(string Page, Stats Stats, long Bytes, string Note)>();
    async Task MeasurePageAsync(string page, Func<int, string> url, string note)
    {
        for (var i = 0; i < 20; i++) await GetPageAsync(anonymous, url(i));
        var times = new double[requests];
        long largest = 0;
        for (var i = 0; i < requests; i++)
        {
            var started = Stopwatch.GetTimestamp();
            largest = Math.Max(largest, await GetPageAsync(anonymous, url(i)));
            times[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        var stats = Stats.Of(times, 0);
        pages.Add((page, stats, largest, note));
        Console.WriteLine($"{page,-52} median {stats.Median,7:F2} ms  p95 {stats.P95,7:F2} ms  max {stats.Max,7:F2} ms  largest {largest / 1024.0,6:F1} KiB");
    }
    await MeasurePageAsync("/ (home)", _ => "", "recently pushed and most pulled public repositories");
    await MeasurePageAsync("/search?q=kestrel", _ => "search?q=kestrel", "ranked, 25 a page");
    await MeasurePageAsync("/search?q=service", _ => "search?q=service", "a word in every description");
    await MeasurePageAsync("/search (all, most pulled first)", _ => "search", "browse without words");
    await MeasurePageAsync("/u/team42", _ => "u/team42", "a namespace's repositories");
    await MeasurePageAsync("/r/bench/many-tags", _ => "r/bench/many-tags", $"README and the 5 newest of {tagCount:N0} tags");
    await MeasurePageAsync("/r/bench/many-tags/tags (newest first)", i => i % 2 == 0
        ? "r/bench/many-tags/tags"
        : $"r/bench/many-tags/tags?cursor={TagCursor(now: seededAt, tagCount, random.Next(tagCount))}", "first page and random keyset cursors, 25 a page");
    await MeasurePageAsync("/r/bench/many-tags/tags?sort=name&filter=…", _ => $"r/bench/many-tags/tags?sort=name&filter=v0{random.Next(10)}", "a name filter matching 10 %");
    await MeasurePageAsync("/r/bench/many-tags/tags/v000042", _ => "r/bench/many-tags/tags/v000042", "one tag's image details");

    await app.StopAsync();
    await app.DisposeAsync();
    WriteMarkdown(markdown, onPostgreSql, repositories, tagCount, requests, results, pages, $"{loadAtStart} at the start, {LoadAverage()} at the end");
    Console.WriteLine($"wrote {markdown}");
    var slow = results.Where(r => r.Stats.Median >= 50).Select(r => r.Workload).Concat(pages.Where(p => p.Stats.Median >= 50 || p.Bytes >= 200 * 1024).Select(p => p.Page)).ToList();
    return slow.Count == 0 ? 0 : 2;
}
finally
{
    if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(dataDir, recursive: true);
}

static int Arg(string name, int fallback) =>
    int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : fallback;

static string Tag(int i) => "v" + i.ToString("D6", CultureInfo.InvariantCulture);

static string Cursor(string after) => Convert.ToBase64String(Encoding.UTF8.GetBytes(after)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

static string RepositoryName(int i) =>
    $"team{i % 2000}/{Words.Adjectives[i % Words.Adjectives.Length]}-{Words.Nouns[i / Words.Adjectives.Length % Words.Nouns.Length]}-{i}";

static async Task<long> GetAsync(HttpClient http, string url)
{
    using var response = await http.GetAsync(url);
    var body = await response.Content.ReadAsByteArrayAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
    using var json = JsonDocument.Parse(body);
    foreach (var property in new[] { "results", "tags", "repositories" })
    {
        if (json.RootElement.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array) return array.GetArrayLength();
    }
    return 0;
}

// A keyset cursor of the tag table, newest first, just after tag i (its push time is seeded as now - (count - i) ms).
static string TagCursor(long now, int count, int i) =>
    Convert.ToBase64String(Encoding.UTF8.GetBytes($"0:{now - (count - i)}:{Tag(i)}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

static async Task<long> GetPageAsync(HttpClient http, string url)
{
    using var response = await http.GetAsync(url);
    var body = await response.Content.ReadAsByteArrayAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET /{url} answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)[..Math.Min(body.Length, 500)]}");
    return body.LongLength;
}

static async Task SeedAsync(string dataDir, int repositoryCount, int tagCount, long now)
{
    var factory = new SqliteConnectionFactory(SqliteOptions.ForFile(Path.Combine(dataDir, "wharf.db")));
    await new SqliteMigrator(factory).MigrateAsync(CancellationToken.None);
    await using var scope = await factory.BeginWriteAsync(CancellationToken.None);
    var connection = scope.Connection;
    await using (var insert = connection.CreateCommand())
    {
        insert.Transaction = scope.Transaction;
        insert.CommandText = "INSERT INTO repositories (name, created_at, visibility, description, push_count, pull_count, last_pushed_at) VALUES ($name, $now, $visibility, $description, 1, $pulls, $now)";
        var name = insert.Parameters.Add("$name", SqliteType.Text);
        var visibility = insert.Parameters.Add("$visibility", SqliteType.Text);
        var description = insert.Parameters.Add("$description", SqliteType.Text);
        var pulls = insert.Parameters.Add("$pulls", SqliteType.Integer);
        insert.Parameters.AddWithValue("$now", now);
        for (var i = 0; i < repositoryCount; i++)
        {
            name.Value = RepositoryName(i);
            visibility.Value = i % 10 == 3 ? "private" : "public";
            description.Value = $"A {Words.Adjectives[(i * 7) % Words.Adjectives.Length]} {Words.Nouns[(i * 13) % Words.Nouns.Length]} service";
            pulls.Value = i % 1000;
            await insert.ExecuteNonQueryAsync();
        }
    }
    // One repository with many tags, all on one small image.
    var manifest = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}""");
    var digest = Digest.Compute(manifest).ToString();
    await using (var setup = connection.CreateCommand())
    {
        setup.Transaction = scope.Transaction;
        setup.CommandText = """
            INSERT INTO repositories (name, created_at, visibility, description, readme, last_pushed_at, push_count)
            VALUES ('bench/many-tags', $now, 'public', 'Many tags', $readme, $now, 1);
            INSERT INTO manifests (repository_id, digest, media_type, content, size, pushed_at)
            VALUES (last_insert_rowid(), $digest, 'application/vnd.oci.image.manifest.v1+json', $content, $size, $now);
            INSERT INTO manifest_details (manifest_id, size, platforms) VALUES (last_insert_rowid(), 0, 'linux/amd64');
            """;
        setup.Parameters.AddWithValue("$now", now);
        setup.Parameters.AddWithValue("$digest", digest);
        setup.Parameters.AddWithValue("$content", manifest);
        setup.Parameters.AddWithValue("$size", manifest.Length);
        setup.Parameters.AddWithValue("$readme", string.Concat(Enumerable.Repeat("## Usage\n\nRun `docker run bench/many-tags:v000001` and read the [docs](https://example.invalid/).\n\n| option | meaning |\n|---|---|\n| -p | port |\n\n", 40)));
        await setup.ExecuteNonQueryAsync();
    }
    await using (var tags = connection.CreateCommand())
    {
        tags.Transaction = scope.Transaction;
        tags.CommandText = """
            INSERT INTO tags (repository_id, name, manifest_id, updated_at)
            SELECT (SELECT id FROM repositories WHERE name = 'bench/many-tags'), $name, (SELECT max(id) FROM manifests), $at
            """;
        var name = tags.Parameters.Add("$name", SqliteType.Text);
        var at = tags.Parameters.Add("$at", SqliteType.Integer);
        for (var i = 0; i < tagCount; i++)
        {
            name.Value = Tag(i);
            at.Value = now - (tagCount - i);
            await tags.ExecuteNonQueryAsync();
        }
    }
    scope.Commit();
    await scope.DisposeAsync();
    await using var optimize = await factory.OpenAsync(CancellationToken.None);
    await using var analyze = optimize.CreateCommand();
    analyze.CommandText = "INSERT INTO repository_search (repository_search) VALUES ('optimize'); ANALYZE;";
    await analyze.ExecuteNonQueryAsync();
    factory.Dispose();
}

/// <summary>The 1, 5 and 15 minute load averages (the machine is shared: figures mean little without them).</summary>
static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

static void WriteMarkdown(string path, bool onPostgreSql, int repositories, int tags, int requests, List<(string Workload, string Example, Stats Stats, string Note)> results,
    List<(string Page, Stats Stats, long Bytes, string Note)> pages, string load)
{
    var md = new StringBuilder();
    md.AppendLine(onPostgreSql ? "# Catalog, tags and search latency on PostgreSQL" : "# Catalog, tags and search latency");
    md.AppendLine();
    md.AppendLine((onPostgreSql ? "Generated by `BENCH_DATABASE=PostgreSql bench/catalog`" : "Generated by `bench/catalog`") + "; do not edit. Target: a page of the tags list or catalog with 100,000 entries, and a search over");
    md.AppendLine("100,000 repositories, in under 50 ms.");
    md.AppendLine();
    md.AppendLine(CultureInfo.InvariantCulture, $"- date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}; .NET {Environment.Version}; load average {load}");
    md.AppendLine(CultureInfo.InvariantCulture, $"- data: {repositories:N0} repositories (`teamN/adjective-noun-i`, description `A <adjective> <noun> service`, 10 % private) and one repository `bench/many-tags` with {tags:N0} tags, {(onPostgreSql ? "copied straight into PostgreSQL 15 (binary COPY; fsync off, as the test server runs), then `ANALYZE`" : "seeded straight into SQLite, then FTS `optimize` and `ANALYZE`")}");
    md.AppendLine($"- server: Wharf in the benchmark process (real Kestrel on 127.0.0.1, {(onPostgreSql ? "PostgreSQL on loopback" : "SQLite file")}, default options); caller: anonymous, sees public repositories only (the SQL read filter is applied)");
    md.AppendLine(CultureInfo.InvariantCulture, $"- method: 20 unrecorded warm-up requests, then {requests} sequential requests per row over one keep-alive connection; the time is the full request (send, server, read the whole body)");
    md.AppendLine();
    md.AppendLine("| request | median ms | p95 ms | max ms | items per page | note |");
    md.AppendLine("|---|---:|---:|---:|---:|---|");
    foreach (var (workload, _, stats, note) in results)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"| `{workload}` | {stats.Median:F2} | {stats.P95:F2} | {stats.Max:F2} | {stats.Items:F0} | {note} |");
    }
    md.AppendLine();
    md.AppendLine("## Web pages");
    md.AppendLine();
    md.AppendLine("The web UI's pages on the same data, as an anonymous visitor (server-rendered HTML; the stylesheet and script are");
    md.AppendLine("separate, cached files of a few KB). Target: under 50 ms each, and every page's transfer under 200 KB before caching.");
    md.AppendLine();
    md.AppendLine("| page | median ms | p95 ms | max ms | largest page KiB | note |");
    md.AppendLine("|---|---:|---:|---:|---:|---|");
    foreach (var (page, stats, bytes, note) in pages)
    {
        md.AppendLine(CultureInfo.InvariantCulture, $"| `{page}` | {stats.Median:F2} | {stats.P95:F2} | {stats.Max:F2} | {bytes / 1024.0:F1} | {note} |");
    }
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    File.WriteAllText(path, md.ToString());
}

internal sealed record Stats(double Median, double P95, double Max, double Items)
{
    public static Stats Of(double[] times, double items)
    {
        Array.Sort(times);
        return new Stats(times[times.Length / 2], times[(int)Math.Ceiling(times.Length * 0.95) - 1], times[^1], items);
    }
}

internal static class Words
{
    public static readonly string[] Adjectives =
    [
        "amber", "brisk", "calm", "dusty", "eager", "faint", "gentle", "hollow", "icy", "jolly", "keen", "lively", "mellow", "noble", "odd",
        "proud", "quiet", "rapid", "silent", "tidy", "urban", "vivid", "wild", "young", "zesty", "bold", "crisp", "deep", "early", "fancy",
        "grand", "humble", "ivory", "jade", "kind", "lunar", "misty", "neat", "olive", "plain", "quick", "rustic", "shiny", "tall", "upper",
        "vast", "warm", "xenial", "yellow", "zen", "azure", "bright", "cosmic", "dark", "epic", "fresh", "golden", "happy", "iron", "juicy",
        "kinetic", "loud", "modern", "nimble", "orange", "polar", "quaint", "royal", "solar", "tiny", "ultra", "velvet", "witty", "xeric",
        "yonder", "zippy", "agile", "brave", "clever", "daring", "elegant", "fierce", "glad", "hasty", "ideal", "jumpy", "lucky", "magic",
        "native", "open", "prime", "rare", "sharp", "swift", "true", "unique", "valid", "wise", "zealous", "able",
    ];

    public static readonly string[] Nouns =
    [
        "kestrel", "badger", "falcon", "otter", "heron", "lynx", "marmot", "newt", "osprey", "puffin", "quail", "raven", "stoat", "tapir",
        "urchin", "vole", "walrus", "yak", "zebra", "bison", "cougar", "dingo", "egret", "ferret", "gecko", "hyena", "ibis", "jackal",
        "koala", "lemur", "moose", "narwhal", "ocelot", "panda", "quokka", "rhino", "salmon", "toucan", "viper", "wombat", "alpaca",
        "beaver", "camel", "dolphin", "eagle", "finch", "gibbon", "hamster", "iguana", "jaguar", "kiwi", "llama", "magpie", "nightjar",
        "orca", "pelican", "rabbit", "seal", "tiger", "unicorn", "vulture", "wolf", "antelope", "buffalo", "cheetah", "donkey", "emu",
        "flamingo", "gorilla", "hedgehog", "impala", "jellyfish", "kangaroo", "leopard", "mole", "nuthatch", "octopus", "parrot", "robin",
        "shark", "turtle", "wren", "cobra", "crane", "duck", "goose", "hawk", "horse", "mouse", "owl", "pigeon", "sparrow", "swan", "trout",
        "whale", "bee", "ant", "crab", "frog",
    ];
}
