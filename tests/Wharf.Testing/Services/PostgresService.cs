using System.Diagnostics;
using Npgsql;

namespace Wharf.Testing.Services;

/// <summary>
/// The PostgreSQL server the tests share. <c>./scripts/test</c> starts one and exports <c>WHARF_TEST_POSTGRES</c> (an
/// Npgsql connection string of a user that may create databases); without it, the first test that asks starts one with
/// the same script (<c>scripts/services/postgres</c>) and it is stopped when the test process ends. There is no skip: a
/// server that cannot start fails the tests that need it. Each test takes its own database (<see cref="CreateDatabaseAsync"/>).
/// </summary>
public static class PostgresService
{
    public const string Variable = "WHARF_TEST_POSTGRES";

    private static readonly Lazy<Task<string>> Server = new(StartOrReuseAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The connection string of the server's administrative user, on the <c>postgres</c> database.</summary>
    public static Task<string> AdminConnectionStringAsync() => Server.Value;

    private static readonly Lazy<Task<string>> MigratedTemplate = new(CreateMigratedTemplateAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// A new database on the shared server, dropped when disposed: empty, or with <paramref name="migrated"/> every
    /// migration of this build already applied (copied from a template this process migrated once, which saves each
    /// test the migrations' time).
    /// </summary>
    public static async Task<PostgresTestDatabase> CreateDatabaseAsync(bool migrated = false, CancellationToken cancellationToken = default)
    {
        var admin = await AdminConnectionStringAsync();
        var template = migrated ? await MigratedTemplate.Value : null;
        var name = "wharf_test_" + Guid.NewGuid().ToString("N");
        await CreateAsync(admin, name, template, cancellationToken);
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new PostgresTestDatabase(admin, name, builder.ConnectionString);
    }

    private static async Task CreateAsync(string admin, string name, string? template, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"{(template is null ? "" : $" TEMPLATE \"{template}\"")}", connection);
                await create.ExecuteNonQueryAsync(cancellationToken);
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 20)
            {
                // Another CREATE DATABASE is copying the same template right now: take turns.
                await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken);
            }
        }
    }

    private static async Task<string> CreateMigratedTemplateAsync()
    {
        var admin = await AdminConnectionStringAsync();
        var name = $"wharf_template_{Environment.ProcessId}_{Guid.NewGuid():N}";
        await CreateAsync(admin, name, null, CancellationToken.None);
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false };
        await using (var connections = new Wharf.Data.PostgreSql.PostgreSqlConnections(builder.ConnectionString))
        {
            await new Wharf.Data.PostgreSql.PostgreSqlMigrator(connections).MigrateAsync(CancellationToken.None);
        }
        return name;
    }

    private static async Task<string> StartOrReuseAsync()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } given) return given;
        var script = FindScript();
        var start = new ProcessStartInfo(script)
        {
            ArgumentList = { "start", "--owner-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not run {script}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{script} start failed with exit code {process.ExitCode}: {await stderr}");
        }
        string? connectionString = null, folder = null;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith(Variable + "=", StringComparison.Ordinal)) connectionString = line[(Variable.Length + 1)..];
            else if (line.StartsWith(Variable + "_DIR=", StringComparison.Ordinal)) folder = line[(Variable.Length + 5)..];
        }
        if (connectionString is null || folder is null) throw new InvalidOperationException($"{script} start printed no connection string: {output}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(script, folder);
        return connectionString;
    }

    private static void Stop(string script, string folder)
    {
        try
        {
            using var stop = Process.Start(new ProcessStartInfo(script) { ArgumentList = { "stop", folder }, UseShellExecute = false });
            stop?.WaitForExit(TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // The watcher the script started stops the server once this process is gone.
        }
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "services", "postgres");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("scripts/services/postgres not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A database of its own on the shared test server; disposing drops it (closing what still uses it).</summary>
public sealed class PostgresTestDatabase(string adminConnectionString, string name, string connectionString) : IAsyncDisposable
{
    public string Name { get; } = name;

    /// <summary>An Npgsql connection string to this database.</summary>
    public string ConnectionString { get; } = connectionString;

    public async ValueTask DisposeAsync()
    {
        using (var pooled = new NpgsqlConnection(ConnectionString)) NpgsqlConnection.ClearPool(pooled);
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
