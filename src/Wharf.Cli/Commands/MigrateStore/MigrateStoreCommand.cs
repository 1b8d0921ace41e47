using System.CommandLine;
using Wharf.Core.Registry;
using Wharf.Data.StoreMigration;
using Wharf.Server;

namespace Wharf.Cli.Commands.MigrateStore;

/// <summary>
/// <c>wharf migrate-store --from DIR</c>: copies an embedded instance (SQLite and blobs in DIR) into the PostgreSQL
/// database and blob store that the rest of the configuration names, the same keys the nodes use. Resumable; see
/// <see cref="StoreMigrator"/>. Exit codes: 0 done, 1 some blobs could not be copied (run it again once they can),
/// 2 it cannot start (configuration, an unreachable store, a target it did not start).
/// </summary>
public static class MigrateStoreCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new Command("migrate-store",
            "Copy an embedded instance (SQLite + blob folder) into PostgreSQL and S3 (the target is the usual Wharf:Database and Wharf:Storage configuration).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        var from = new Option<string>("--from") { Description = "The embedded instance's data folder (its wharf.db and blobs/). Stop that instance first.", Required = true };
        var fromDatabase = new Option<string>("--from-database") { Description = "Its SQLite file, when not DIR/wharf.db (its Wharf:Database:Path)." };
        command.Options.Add(from);
        command.Options.Add(fromDatabase);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = rawArgs.SkipWhile(a => a != "migrate-store").Skip(1).ToArray();
            try
            {
                var migrator = StoreMigrator.Create(args, parse.GetValue(from)!, parse.GetValue(fromDatabase), Console.Out);
                await using (migrator)
                {
                    return await migrator.RunAsync(cancellationToken);
                }
            }
            catch (Exception e) when (e is StoreMigrationException or MetadataStoreUnavailableException or ProviderUnavailableException or WharfConfigurationException)
            {
                await Console.Error.WriteLineAsync($"wharf migrate-store: {e.Message.ReplaceLineEndings(" ")}");
                return 2;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A store that fails mid-way (the database restarts, the bucket stops answering): what is copied stays copied.
                await Console.Error.WriteLineAsync(
                    $"wharf migrate-store: the copy stopped: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} Run the same command again to continue from where it stopped.");
                return 1;
            }
        });
        return command;
    }
}
