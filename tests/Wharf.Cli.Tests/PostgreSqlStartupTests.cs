using Npgsql;
using Wharf.Data.PostgreSql;
using Wharf.Testing;
using Wharf.Testing.Services;

namespace Wharf.Cli.Tests;

/// <summary>
/// <c>wharf serve</c>, <c>worker</c> and <c>migrate</c> on PostgreSQL as an operator meets them: a database that can't be
/// used stops start-up with one line saying why (exit code 2), nodes do not migrate unless asked, and several
/// <c>wharf migrate</c> at once apply each migration once.
/// </summary>
public sealed class PostgreSqlStartupTests : IAsyncLifetime
{
    private TempDirectory _home = null!;
    private WharfCli _cli = null!;

    public Task InitializeAsync()
    {
        _home = TempDirectory.Create("pg-startup");
        _cli = new WharfCli(_home);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    private Task<CliResult> RunAsync(string verb, string connectionString, params string[] extra) =>
        _cli.RunAsync([verb, "--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", _home.Combine("data-" + verb),
            "--Wharf:Database:Type=PostgreSql", $"--Wharf:Database:ConnectionString={connectionString}", .. extra]);

    private static void AssertOneLine(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 2, result.Describe());
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, "expected one line on stderr:\n" + result.Describe());
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", result.Output + result.Error);
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("worker")]
    [InlineData("migrate")]
    public async Task An_unreachable_server_stops_start_up_with_one_line(string verb)
    {
        var port = FreePort.Next();
        var result = await RunAsync(verb, $"Host=127.0.0.1;Port={port};Username=wharf;Password=secret;Database=wharf;Timeout=5");
        AssertOneLine(result, $"Cannot reach PostgreSQL at 127.0.0.1:{port}");
        Assert.DoesNotContain("secret", result.Error);
    }

    [Fact]
    public async Task A_wrong_password_stops_start_up_with_one_line_that_keeps_the_password_secret()
    {
        var admin = new NpgsqlConnectionStringBuilder(await PostgresService.AdminConnectionStringAsync()) { Password = "wrong-secret-1" };
        var result = await RunAsync("serve", admin.ConnectionString);
        AssertOneLine(result, "refused the password of user 'postgres'");
        Assert.DoesNotContain("wrong-secret-1", result.Error);
    }

    [Fact]
    public async Task A_missing_database_stops_start_up_with_one_line()
    {
        var admin = new NpgsqlConnectionStringBuilder(await PostgresService.AdminConnectionStringAsync()) { Database = "no_such_wharf" };
        AssertOneLine(await RunAsync("serve", admin.ConnectionString), "database \"no_such_wharf\" does not exist");
    }

    [Fact]
    public async Task A_missing_or_broken_connection_string_is_a_configuration_error()
    {
        var missing = await _cli.RunAsync("serve", "--data-dir", _home.Combine("d"), "--Wharf:Database:Type=PostgreSql");
        Assert.True(missing.ExitCode == 2, missing.Describe());
        Assert.Contains("Wharf:Database:ConnectionString is required", missing.Error);
        var broken = await RunAsync("serve", "Host=127.0.0.1;Bogus Key=1");
        Assert.True(broken.ExitCode == 2, broken.Describe());
        Assert.Contains("not a valid Npgsql connection string", broken.Error);
        var unknown = await _cli.RunAsync("serve", "--data-dir", _home.Combine("d"), "--Wharf:Database:Type=Oracle");
        Assert.True(unknown.ExitCode == 2, unknown.Describe());
        Assert.Contains("allowed values: Sqlite, PostgreSql", unknown.Error);
    }

    [Fact]
    public async Task Nodes_do_not_migrate_a_new_database_but_say_to_run_migrate_which_several_may_run_at_once()
    {
        await using var database = await PostgresService.CreateDatabaseAsync();
        AssertOneLine(await RunAsync("serve", database.ConnectionString), "Run `wharf migrate`");
        AssertOneLine(await RunAsync("worker", database.ConnectionString), "migrations are pending");

        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => RunAsync("migrate", database.ConnectionString)));
        Assert.All(runs, r => Assert.True(r.ExitCode == 0, r.Describe()));
        var count = PostgreSqlMigrator.LoadMigrations().Count;
        Assert.Single(runs, r => r.Output.Contains($"{count} migrations applied.", StringComparison.Ordinal));
        Assert.Equal(2, runs.Count(r => r.Output.Contains("up to date", StringComparison.Ordinal)));
    }
}
