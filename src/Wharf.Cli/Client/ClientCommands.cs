using System.CommandLine;
using System.CommandLine.Parsing;

namespace Wharf.Cli.Client;

/// <summary>Adds the client verbs for people and the global <c>--server</c> and <c>--output</c> options to the root command.</summary>
public static class ClientCommands
{
    public static void AddTo(RootCommand root)
    {
        root.Options.Add(CliContext.ServerOption);
        root.Options.Add(CliContext.OutputOption);
        root.Subcommands.Add(PushCommand.Create());
        root.Subcommands.Add(PullCommand.Create());
        root.Subcommands.Add(RepositoryCommands.Tags());
        root.Subcommands.Add(RepositoryCommands.Remove());
        root.Subcommands.Add(RepositoryCommands.Inspect());
        root.Subcommands.Add(RepositoryApiCommands.Create());
        root.Subcommands.Add(RepositoryApiCommands.Search());
        root.Subcommands.Add(AccountCommands.SignUp());
        root.Subcommands.Add(AccountCommands.Login());
        root.Subcommands.Add(AccountCommands.Logout());
        root.Subcommands.Add(AccountCommands.WhoAmI());
        root.Subcommands.Add(AccountCommands.Token());
    }

    /// <summary>Parses and runs; a command line that does not parse exits with <see cref="ExitCodes.InvalidInput"/> (2), after the usual message.</summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        var code = await parse.InvokeAsync();
        return parse.Errors.Count > 0 && code != 0 ? ExitCodes.InvalidInput : code;
    }
}
