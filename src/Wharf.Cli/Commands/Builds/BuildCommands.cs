using System.CommandLine;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Wharf.Cli.Commands.Builds;

/// <summary>The build verbs: <c>build</c>, <c>builds</c>, <c>status</c>, <c>logs</c>, <c>retry</c>, <c>cancel</c>.</summary>
public static class BuildCommands
{
    private static Option<string> ServerOption() => new("--server") { Description = "Wharf's address (default WHARF_SERVER, else http://localhost:5000)." };

    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Build());
        root.Subcommands.Add(List());
        root.Subcommands.Add(Status());
        root.Subcommands.Add(Logs());
        root.Subcommands.Add(Simple("retry", "Retry a failed build (a failed push is pushed again without rebuilding).", "retry"));
        root.Subcommands.Add(Simple("cancel", "Cancel a queued or running build.", "cancel"));
    }

    private static Command Build()
    {
        var tag = new Option<string>("--tag", "-t") { Description = "The image: namespace/name:tag, or a full reference to an external registry.", Required = true };
        var file = new Option<string>("--file", "-f") { Description = "The Dockerfile (default CONTEXT/Dockerfile, or ./Dockerfile without a context)." };
        var args = new Option<string[]>("--build-arg") { Description = "KEY=VALUE, repeatable." };
        var target = new Option<string>("--target") { Description = "The stage to build." };
        var context = new Argument<string?>("CONTEXT") { Description = "A folder sent as the build context (optional).", Arity = ArgumentArity.ZeroOrOne };
        var server = ServerOption();
        var command = new Command("build", "Build an image on Wharf and follow its logs.") { tag, file, args, target, context, server };
        command.SetAction((parse, ct) => RunAsync(async () =>
        {
            using var client = new BuildsClient(parse.GetValue(server));
            using var form = new MultipartFormDataContent();
            string? archive = null;
            try
            {
                var contextDir = parse.GetValue(context);
                if (contextDir is not null)
                {
                    var root = Path.GetFullPath(contextDir);
                    if (!Directory.Exists(root)) throw new BuildsClientException($"The context folder '{contextDir}' does not exist.");
                    var dockerfile = Path.GetFullPath(parse.GetValue(file) ?? Path.Combine(root, "Dockerfile"));
                    var relative = Path.GetRelativePath(root, dockerfile);
                    if (relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
                        throw new BuildsClientException("The Dockerfile must be inside the context folder.");
                    archive = Path.Combine(Path.GetTempPath(), $"wharf-context-{Guid.NewGuid():N}.tar.gz");
                    await using (var output = File.Create(archive))
                    await using (var zip = new GZipStream(output, CompressionLevel.Fastest))
                    {
                        await TarFile.CreateFromDirectoryAsync(root, zip, includeBaseDirectory: false, ct);
                    }
                    var part = new StreamContent(File.OpenRead(archive));
                    part.Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
                    form.Add(part, "context", "context.tar.gz");
                    form.Add(new StringContent(relative.Replace('\\', '/')), "dockerfile_path");
                }
                else
                {
                    var dockerfile = parse.GetValue(file) ?? "Dockerfile";
                    if (!File.Exists(dockerfile)) throw new BuildsClientException($"No Dockerfile at '{dockerfile}'.");
                    var part = new StreamContent(File.OpenRead(dockerfile));
                    part.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
                    form.Add(part, "dockerfile", "Dockerfile");
                }
                form.Add(new StringContent(parse.GetValue(tag)!), "image");
                foreach (var pair in parse.GetValue(args) ?? []) form.Add(new StringContent(pair), "build_args");
                if (parse.GetValue(target) is { } stage) form.Add(new StringContent(stage), "target");

                var build = await client.SubmitAsync(form, ct);
                var id = build["id"]!.GetValue<string>();
                await Console.Error.WriteLineAsync($"Build {id} queued for {build["image"]}");
                var started = DateTime.UtcNow;
                var state = await client.FollowAsync(id, async line =>
                {
                    // Drop the timestamp; show the elapsed time as a progress prefix.
                    var text = line.Length > 25 && line[24] == ' ' ? line[25..] : line;
                    await Console.Out.WriteLineAsync($"[{(DateTime.UtcNow - started).TotalSeconds,5:0.0}s] {text}");
                }, ct);
                var final = await client.GetAsync($"api/v1/builds/{id}", ct);
                await Console.Error.WriteLineAsync(Summary(final));
                return state == "succeeded" ? 0 : 1;
            }
            finally
            {
                if (archive is not null) File.Delete(archive);
            }
        }));
        return command;
    }

    private static Command List()
    {
        var state = new Option<string>("--state") { Description = "queued, running, succeeded, failed, cancelled or timed_out." };
        var repository = new Option<string>("--repository") { Description = "Only builds of this repository." };
        var server = ServerOption();
        var command = new Command("builds", "List your builds, newest first.") { state, repository, server };
        command.SetAction((parse, ct) => RunAsync(async () =>
        {
            using var client = new BuildsClient(parse.GetValue(server));
            var query = new List<string>();
            if (parse.GetValue(state) is { } s) query.Add("state=" + Uri.EscapeDataString(s));
            if (parse.GetValue(repository) is { } r) query.Add("repository=" + Uri.EscapeDataString(r));
            var page = await client.GetAsync("api/v1/builds" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            Console.WriteLine($"{"ID",-36}  {"STATE",-10}  {"BUILD",-11}  {"PUSH",-11}  {"CREATED",-20}  IMAGE");
            foreach (var b in page["builds"]!.AsArray())
            {
                Console.WriteLine($"{b!["id"],-36}  {b["state"],-10}  {b["build_status"],-11}  {b["push_status"],-11}  {b["created_at"]!.GetValue<DateTimeOffset>().UtcDateTime,-20:yyyy-MM-dd HH:mm:ss}  {b["image"]}");
            }
            return 0;
        }));
        return command;
    }

    private static Command Status()
    {
        var id = new Argument<string>("ID");
        var server = ServerOption();
        var command = new Command("status", "Show a build's state.") { id, server };
        command.SetAction((parse, ct) => RunAsync(async () =>
        {
            using var client = new BuildsClient(parse.GetValue(server));
            Console.WriteLine(Summary(await client.GetAsync($"api/v1/builds/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct)));
            return 0;
        }));
        return command;
    }

    private static Command Logs()
    {
        var id = new Argument<string>("ID");
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming until the build ends." };
        var server = ServerOption();
        var command = new Command("logs", "Print a build's log.") { id, follow, server };
        command.SetAction((parse, ct) => RunAsync(async () =>
        {
            using var client = new BuildsClient(parse.GetValue(server));
            var buildId = Uri.EscapeDataString(parse.GetValue(id)!);
            if (parse.GetValue(follow))
            {
                var state = await client.FollowAsync(buildId, line => Console.Out.WriteLineAsync(line), ct);
                return state == "succeeded" ? 0 : 1;
            }
            Console.Write(await client.GetTextAsync($"api/v1/builds/{buildId}/logs", ct));
            return 0;
        }));
        return command;
    }

    private static Command Simple(string name, string description, string action)
    {
        var id = new Argument<string>("ID");
        var server = ServerOption();
        var command = new Command(name, description) { id, server };
        command.SetAction((parse, ct) => RunAsync(async () =>
        {
            using var client = new BuildsClient(parse.GetValue(server));
            Console.WriteLine(Summary(await client.PostAsync($"api/v1/builds/{Uri.EscapeDataString(parse.GetValue(id)!)}/{action}", ct)));
            return 0;
        }));
        return command;
    }

    private static string Summary(JsonNode b)
    {
        var line = $"{b["id"]} {b["state"]} (build {b["build_status"]}, push {b["push_status"]}) {b["image"]}";
        if (b["digest"] is { } digest) line += $" {digest}";
        if (b["error"]?["message"] is { } message) line += $" — {b["error"]!["kind"]}: {message}";
        return line;
    }

    private static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (BuildsClientException e)
        {
            await Console.Error.WriteLineAsync($"wharf: {e.Message}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"wharf: cannot reach the server: {e.Message}");
            return 1;
        }
    }
}
