using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;
using Wharf.Client.Credentials;
using Wharf.Core.References;

namespace Wharf.Cli.Client;

/// <summary><c>wharf create NAME</c> and <c>wharf search WORD</c>: Wharf's repositories API (<c>/api/v1/repositories</c>, <c>/api/v1/search</c>).</summary>
internal static class RepositoryApiCommands
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/name of the new repository (a host:port/ prefix names the server)." };
        var isPublic = new Option<bool>("--public") { Description = "Anyone may pull it." };
        var isPrivate = new Option<bool>("--private") { Description = "Only its namespace's members may pull it." };
        var description = new Option<string?>("--description", "-d") { Description = "A one-line description, shown in search." };
        var readme = new Option<string?>("--readme") { Description = "A Markdown file whose text becomes the repository's README." };
        var command = new Command("create", "Create a repository on Wharf (default visibility: the server's).") { name, isPublic, isPrivate, description, readme };
        CliContext.SetAction(command, async context =>
        {
            var (registry, ns, repo) = ParseRepositoryName(context.Parse.GetValue(name));
            var visibility = (context.Parse.GetValue(isPublic), context.Parse.GetValue(isPrivate)) switch
            {
                (true, true) => throw new WharfClientException(ClientErrorKind.InvalidInput, "Give --public or --private, not both."),
                (true, false) => "public",
                (false, true) => "private",
                _ => null,
            };
            var readmeText = context.Parse.GetValue(readme) is { } path ? await ReadReadmeAsync(path, context.CancellationToken) : null;
            var server = await context.ServerAsync(registry);
            var credential = await context.CredentialAsync(server);
            using var api = new ApiClient(server, credential);
            RepositoryInfo created;
            try
            {
                created = await api.CreateRepositoryAsync(ns, repo, visibility, context.Parse.GetValue(description), readmeText, context.CancellationToken);
            }
            catch (ApiException e) when (e.Kind == ClientErrorKind.Unauthorized)
            {
                var host = ServerAddress.HostKey(server);
                throw new WharfClientException(ClientErrorKind.Unauthorized, credential is null
                    ? $"Not logged in to {host}: run 'wharf login {host}' first. ({e.Message})"
                    : ns.Length == 0
                        ? e.Message
                        : $"{e.Message} Only the namespace's owner (or its organization's owners and maintainers) may create repositories in '{ns}'.");
            }
            if (context.Json)
            {
                context.WriteJson(RepositoryJson(created));
                return ExitCodes.Ok;
            }
            context.Say($"Created {created.Visibility ?? "new"} repository {created.DisplayName} on {server.ToString().TrimEnd('/')}.");
            context.Say($"Push to it: wharf push {ServerAddress.HostKey(server)}/{created.DisplayName}:TAG");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Search()
    {
        var word = new Argument<string>("WORD") { Description = "Words to look for in repository names and descriptions." };
        var limit = new Option<int?>("--limit", "-n") { Description = "At most this many results (default: the server's page size, 25)." };
        var ns = new Option<string?>("--namespace") { Description = "Only repositories of this namespace (a user or an organization)." };
        var command = new Command("search", "Search the repositories you may pull, best match first.") { word, limit, ns };
        CliContext.SetAction(command, async context =>
        {
            var max = context.Parse.GetValue(limit);
            var query = context.Parse.GetValue(word)!.Trim();
            if (query.Length == 0) throw new WharfClientException(ClientErrorKind.InvalidInput, "Give a word to search for, e.g. wharf search nginx.");
            if (max is < 1) throw new WharfClientException(ClientErrorKind.InvalidInput, $"--limit must be a positive number, not {max}.");
            var inNamespace = context.Parse.GetValue(ns);
            if (inNamespace is not null && (inNamespace.Contains('/') || !RepositoryName.IsValid(inNamespace)))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{inNamespace}' is not a namespace: lower-case letters and digits, optionally joined by '.', '_', '__' or '-', with no '/'.");
            }
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var page = await api.SearchAsync(query, inNamespace, max, context.CancellationToken);
            var results = page.Results ?? [];
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["query"] = page.Query,
                    ["results"] = new JsonArray([.. results.Select(r => (JsonNode)RepositoryJson(r))]),
                    ["next_cursor"] = page.NextCursor,
                });
                return ExitCodes.Ok;
            }
            if (results.Count == 0)
            {
                context.Say($"No repository you may pull matches '{query}'.");
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("NAME").NoWrap(), new TableColumn("DESCRIPTION"), new TableColumn("VISIBILITY"),
                new TableColumn("PULLS").RightAligned(), new TableColumn("UPDATED").NoWrap());
            foreach (var r in results)
            {
                table.AddRow(Markup.Escape(r.DisplayName), Markup.Escape(OneLine(r.Description)), Markup.Escape(r.Visibility ?? ""),
                    (r.PullCount ?? 0).ToString(CultureInfo.InvariantCulture), (r.LastPushedAt ?? r.UpdatedAt)?.ToString("u", CultureInfo.InvariantCulture) ?? "never");
            }
            context.Terminal.Write(table);
            if (page.NextCursor is not null) context.Say($"More results: raise --limit{(max is null ? "" : $" above {max}")}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// <c>[host:port/]namespace/name</c> checked with the image-name rules before any request: lower case, no <c>..</c>, no
    /// spaces, at least two components, and no tag or digest (a repository is not an image).
    /// </summary>
    internal static (string? Registry, string Namespace, string Name) ParseRepositoryName(string? text)
    {
        var reference = CliContext.ParseImage(text);
        if (reference.Tag is not null || reference.Digest is not null)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{text}' names an image; give the repository alone, e.g. {reference.Repository}.");
        }
        // A one-component name (no namespace) is the administrators', as with push: the server decides who may.
        var slash = reference.Repository.IndexOf('/');
        return slash < 0
            ? (reference.Registry, "", reference.Repository)
            : (reference.Registry, reference.Repository[..slash], reference.Repository[(slash + 1)..]);
    }

    private static async Task<string> ReadReadmeAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path)) throw new WharfClientException(ClientErrorKind.InvalidInput, $"--readme {path} does not exist.");
        return await File.ReadAllTextAsync(path, cancellationToken);
    }

    private static string OneLine(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 80 ? line : line[..79] + "…";
    }

    private static JsonObject RepositoryJson(RepositoryInfo r) => new()
    {
        ["name"] = r.DisplayName,
        ["namespace"] = r.Namespace,
        ["visibility"] = r.Visibility,
        ["description"] = r.Description,
        ["pull_count"] = r.PullCount,
        ["created_at"] = r.CreatedAt,
        ["updated_at"] = r.UpdatedAt,
        ["last_pushed_at"] = r.LastPushedAt,
    };
}
