using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary><c>wharf user add</c>, the admin verb that writes an account straight into the database.</summary>
public sealed class UserAddTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = TempDirectory.Create("wuser");
    private WharfCli _cli = null!;

    public Task InitializeAsync()
    {
        _cli = new WharfCli(_dir) { WorkingDirectory = _dir.CreateSubdirectory("work") };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _dir.DisposeAsync();

    [Fact]
    public async Task Arguments_that_equal_the_user_name_are_kept()
    {
        // The name, the data folder and a configuration value are all "data": each keeps its place.
        var created = await _cli.RunAsync(["user", "add", "data", "--data-dir", "data", "--Wharf:Database:Path=data/data.db", "--password-stdin"], "a-long-password\n", CancellationToken.None);
        created.EnsureSuccess();
        Assert.Contains("Created user 'data'", created.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(_dir.Combine("work", "data", "data.db")), created.Describe());

        // The same database is found again: the name is taken now.
        var again = await _cli.RunAsync(["user", "add", "data", "--password-stdin", "--data-dir", "data", "--Wharf:Database:Path=data/data.db"], "a-long-password\n", CancellationToken.None);
        Assert.True(again.ExitCode == 1, again.Describe());
        Assert.Contains("taken", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_administrator_is_created_in_the_folder_given()
    {
        var created = await _cli.RunAsync(["user", "add", "boss", "--admin", "--data-dir", "boss", "--password-stdin"], "a-long-password\n", CancellationToken.None);
        created.EnsureSuccess();
        Assert.Contains("(administrator)", created.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(_dir.Combine("work", "boss", "wharf.db")), created.Describe());
        Assert.False(Directory.Exists(_dir.Combine("work", "data")), "nothing is written to the default ./data");
    }
}
