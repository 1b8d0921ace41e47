using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;
using Wharf.Core.References;

namespace Wharf.Cli.Client;

/// <summary><c>wharf repo list|update|delete</c>: repositories as Docker Hub's and Harbor's pages manage them, over <c>/api/v1/repositories</c>.</summary>
internal static class RepoCommands
{
    public static Command Create()
    {
        var command = new Command("repo", "Repositories: list them, change visibility, description and README, delete them.");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Update());
        command.Subcommands.Add(Delete());
        return command;
    }

    private static Command List()
    {
        var ns = new Argument<string?>("NAMESPACE") { Description = "Only this namespace's repositories (a user or an organization).", Arity = ArgumentArity.ZeroOrOne };
        var limit = new Option<int?>("--limit", "-n") { Description = "At most this many (default: all)." };
        var command = new Command("list", "List the repositories you may pull, by name.") { ns, limit };
        CliContext.SetAction(command, async context =>
        {
            var inNamespace = context.Parse.GetValue(ns);
            if (inNamespace is not null && (inNamespace.Contains('/') || !RepositoryName.IsValid(inNamespace)))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{inNamespace}' is not a namespace: lower-case letters and digits, optionally joined by '.', '_', '__' or '-', with no '/'.");
            }
            if (context.Parse.GetValue(limit) is < 1) throw new WharfClientException(ClientErrorKind.InvalidInput, "--limit must be a positive number.");
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var repositories = await api.ListRepositoriesAsync(inNamespace, context.Parse.GetValue(limit), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject { ["repositories"] = new JsonArray([.. repositories.Select(r => (JsonNode)RepositoryApiCommands.RepositoryJson(r))]) });
                return ExitCodes.Ok;
            }
            if (repositories.Count == 0)
            {
                context.Say(inNamespace is null ? "No repository you may pull." : $"No repository in '{inNamespace}' that you may pull.");
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("NAME").NoWrap(), new TableColumn("VISIBILITY"), new TableColumn("PULLS").RightAligned(),
                new TableColumn("LAST PUSH").NoWrap(), new TableColumn("DESCRIPTION"));
            foreach (var r in repositories)
            {
                table.AddRow(Markup.Escape(r.DisplayName), Markup.Escape(r.Visibility ?? ""), (r.PullCount ?? 0).ToString(CultureInfo.InvariantCulture),
                    r.LastPushedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never", Markup.Escape(RepositoryApiCommands.OneLine(r.Description)));
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Update()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/name of the repository." };
        var isPublic = new Option<bool>("--public") { Description = "Anyone may pull it." };
        var isPrivate = new Option<bool>("--private") { Description = "Only its namespace's members may pull it." };
        var description = new Option<string?>("--description", "-d") { Description = "A new one-line description (\"\" clears it)." };
        var readme = new Option<string?>("--readme") { Description = "A Markdown file whose text becomes the README." };
        var command = new Command("update", "Change a repository's visibility, description or README.") { name, isPublic, isPrivate, description, readme };
        CliContext.SetAction(command, async context =>
        {
            var (registry, repository) = Repository(context.Parse.GetValue(name));
            var visibility = RepositoryApiCommands.Visibility(context.Parse.GetValue(isPublic), context.Parse.GetValue(isPrivate));
            var text = context.Parse.GetValue(description);
            var readmeText = context.Parse.GetValue(readme) is { } path ? await RepositoryApiCommands.ReadReadmeAsync(path, context.CancellationToken) : null;
            if (visibility is null && text is null && readmeText is null)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, "Nothing to change: give --public or --private, --description or --readme.");
            }
            var server = await context.ServerAsync(registry);
            using var api = await context.ApiAsync(server);
            var updated = await api.UpdateRepositoryAsync(repository, new UpdateRepositoryRequest { Visibility = visibility, Description = text, Readme = readmeText }, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(RepositoryApiCommands.RepositoryJson(updated));
                return ExitCodes.Ok;
            }
            var changes = new List<string>();
            if (visibility is not null) changes.Add(visibility);
            if (text is not null) changes.Add(text.Length == 0 ? "no description" : "new description");
            if (readmeText is not null) changes.Add("new README");
            context.Say($"Updated {updated.DisplayName}: {string.Join(", ", changes)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Delete()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/name of the repository." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask: needed without a terminal." };
        var command = new Command("delete", "Delete a repository with all its tags and manifests.") { name, yes };
        CliContext.SetAction(command, async context =>
        {
            var (registry, repository) = Repository(context.Parse.GetValue(name));
            if (!context.Parse.GetValue(yes))
            {
                if (!context.Interactive || Console.IsInputRedirected)
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, $"Deleting {repository} removes every tag and manifest in it: confirm with --yes.");
                }
                if (!await context.Terminal.ConfirmAsync($"Delete {Markup.Escape(repository)} with every tag and manifest in it?", defaultValue: false, context.CancellationToken))
                {
                    context.Say("Nothing deleted.");
                    return ExitCodes.Failure;
                }
            }
            var server = await context.ServerAsync(registry);
            using var api = await context.ApiAsync(server);
            await api.DeleteRepositoryAsync(repository, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["name"] = repository, ["deleted"] = true });
            else context.Say($"Deleted {repository}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The repository named, checked locally: <c>[host:port/]namespace/name</c> or a one-component name.</summary>
    private static (string? Registry, string Repository) Repository(string? text)
    {
        var (registry, ns, name) = RepositoryApiCommands.ParseRepositoryName(text);
        return (registry, ns.Length == 0 ? name : $"{ns}/{name}");
    }
}
