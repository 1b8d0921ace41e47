using System.CommandLine;
using Wharf.Server;

namespace Wharf.Cli.Commands;

/// <summary><c>wharf migrate</c>: applies the metadata store's pending schema migrations and exits.</summary>
public static class MigrateCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new Command("migrate", "Apply pending database migrations and exit.") { TreatUnmatchedTokensAsErrors = false };
        command.Options.Add(new Option<string>("--data-dir") { Description = "Folder for the database (default ./data)." });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = rawArgs.SkipWhile(a => a != "migrate").Skip(1).ToArray();
            try
            {
                await using var app = WharfServer.Build(args);
                var applied = await WharfServer.MigrateAsync(app.Services, cancellationToken);
                Console.WriteLine(applied == 0 ? "The database is up to date: no migration was pending." : $"{applied} migration{(applied == 1 ? "" : "s")} applied.");
                return 0;
            }
            catch (WharfConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }
        });
        return command;
    }
}
