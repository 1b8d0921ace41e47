using System.CommandLine;
using System.Text.Json.Nodes;

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
        root.Subcommands.Add(AccountCommands.Password());
        root.Subcommands.Add(AccountCommands.Audit());
        root.Subcommands.Add(RepoCommands.Create());
        root.Subcommands.Add(OrgCommands.Create());
        root.Subcommands.Add(CredentialCommands.Create());
    }

    /// <summary>
    /// How a command is run. A <see cref="Commands.HostCommand"/> (<c>serve</c>, <c>worker</c>) leaves SIGTERM and Ctrl+C
    /// to its host, which drains what is in flight; the others keep System.CommandLine's handling: the signal cancels the
    /// command's token, and the process ends two seconds later if the command has not returned by then.
    /// </summary>
    private static InvocationConfiguration Invocation(Command command) =>
        command is Commands.HostCommand ? new InvocationConfiguration { ProcessTerminationTimeout = null } : new InvocationConfiguration();

    /// <summary>
    /// Parses and runs. A command line that does not parse prints what is wrong, the command's usage line and where its
    /// help is (as docker does), not the whole help, and exits with <see cref="ExitCodes.InvalidInput"/> (2); with
    /// <c>-o json</c> the error document goes to stdout too.
    /// </summary>
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        // No '@file' response files: '@0' (an image of an archive) and other words starting with '@' are values, as in docker.
        var configuration = new ParserConfiguration { ResponseFileTokenReplacer = null };
        var parse = root.Parse(args, configuration);
        var command = parse.CommandResult.Command;
        var unknown = command.TreatUnmatchedTokensAsErrors ? UnknownOptions(parse) : [];
        if (parse.Errors.Count == 0 && unknown.Count == 0) return await parse.InvokeAsync(Invocation(command));
        var path = CommandPath(parse);
        if (unknown.Count == 0 && parse.Errors.Count == 1 && parse.UnmatchedTokens.Count == 0 && command.Subcommands.Count > 0 && command.Action is null)
        {
            // 'wharf' or 'wharf token' alone: the list of commands is what was asked for, as docker shows it.
            return await root.Parse([.. path.Split(' ').Skip(1), "--help"], configuration).InvokeAsync();
        }
        IEnumerable<string> messages = unknown.Count > 0 ? unknown.Select(u => $"unknown option '{u}'")
            : command.Subcommands.Count > 0 && parse.UnmatchedTokens.Count > 0 ? [$"'{path} {parse.UnmatchedTokens[0]}' is not a wharf command"]
            : parse.Errors.Select(e => e.Message);
        foreach (var message in messages) await Console.Error.WriteLineAsync($"wharf: {message}");
        await Console.Error.WriteLineAsync($"Usage: {Usage(path, command)}");
        await Console.Error.WriteLineAsync($"Run '{path} --help' for more.");
        if (args.Contains("json") && (args.Contains("-o") || args.Contains("--output")) || args.Contains("--output=json") || args.Contains("-o=json"))
        {
            var message = string.Join(" ", messages);
            CliContext.WriteJsonDocument(new JsonObject { ["error"] = new JsonObject { ["exit_code"] = ExitCodes.InvalidInput, ["message"] = message } });
        }
        return ExitCodes.InvalidInput;
    }

    /// <summary>
    /// Words that look like options but that no option of the command knows: the parser would take '--bogus' as the value
    /// of an argument. Negative numbers and '-' (standard input) are values; anything after '--' is too.
    /// </summary>
    private static List<string> UnknownOptions(ParseResult parse)
    {
        var unknown = new List<string>();
        foreach (var token in parse.Tokens)
        {
            if (token.Type == System.CommandLine.Parsing.TokenType.DoubleDash) break;
            if (token.Type != System.CommandLine.Parsing.TokenType.Argument) continue;
            var value = token.Value;
            if (value.Length < 2 || value[0] != '-' || double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out _)) continue;
            unknown.Add(value.Split('=')[0]);
        }
        return unknown;
    }

    /// <summary>"wharf token create": the names from the root to the command that was parsed.</summary>
    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Command is RootCommand ? "wharf" : result.Command.Name);
        }
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>"wharf push [options] NAME:TAG", "wharf token [command]".</summary>
    private static string Usage(string path, Command command)
    {
        var parts = new List<string> { path };
        if (command.Subcommands.Count > 0) parts.Add("[command]");
        if (command.Options.Count > 0 || command is RootCommand) parts.Add("[options]");
        foreach (var argument in command.Arguments)
        {
            parts.Add(argument.Arity.MinimumNumberOfValues == 0 ? $"[{argument.Name}]" : argument.Name);
        }
        return string.Join(' ', parts);
    }
}
