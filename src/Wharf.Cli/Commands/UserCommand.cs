using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Accounts;
using Wharf.Server;

namespace Wharf.Cli.Commands;

/// <summary><c>wharf user add NAME --password-stdin [--admin]</c>: creates an account directly in the database (admin verb).</summary>
public static class UserCommand
{
    public static Command Create()
    {
        var user = new Command("user", "Manage accounts directly in the database (administrators).");
        var add = new Command("add", "Create a user; the password is read from standard input.") { TreatUnmatchedTokensAsErrors = false };
        var name = new Argument<string>("name") { Description = "The user name (also their namespace)." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (required)." };
        var admin = new Option<bool>("--admin") { Description = "Make the user an administrator." };
        add.Arguments.Add(name);
        add.Options.Add(passwordStdin);
        add.Options.Add(admin);
        var dataDir = new Option<string>("--data-dir") { Description = "Folder for the database (default ./data)." };
        add.Options.Add(dataDir);
        add.SetAction(async (parse, cancellationToken) =>
        {
            if (!parse.GetValue(passwordStdin))
            {
                await Console.Error.WriteLineAsync("Give --password-stdin and the password on standard input.");
                return 2;
            }
            var password = (await Console.In.ReadToEndAsync(cancellationToken)).TrimEnd('\r', '\n');
            // The server sees the data folder and any configuration keys (--Wharf:…=…) the parser did not take itself;
            // the name and this verb's own flags are not configuration, whatever their text.
            string[] args = [.. parse.GetValue(dataDir) is { } folder ? ["--data-dir", folder] : Array.Empty<string>(), .. parse.UnmatchedTokens];
            try
            {
                await using var app = WharfServer.Build(args);
                await WharfServer.MigrateAsync(app.Services, cancellationToken);
                var accounts = app.Services.GetService<AccountService>();
                if (accounts is null)
                {
                    await Console.Error.WriteLineAsync("Accounts are off (Wharf:Auth:Mode=Open).");
                    return 2;
                }
                var result = await accounts.AddUserAsync(parse.GetValue(name), password, null, parse.GetValue(admin), cancellationToken);
                if (!result.IsOk)
                {
                    await Console.Error.WriteLineAsync(result.Error!.Message);
                    return 1;
                }
                Console.WriteLine($"Created user '{result.Value!.Name}'{(result.Value.IsAdmin ? " (administrator)" : "")}.");
                return 0;
            }
            catch (WharfConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }
        });
        user.Subcommands.Add(add);
        return user;
    }
}
