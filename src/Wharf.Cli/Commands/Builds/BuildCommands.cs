using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Cli.Client;
using Wharf.Client;
using Wharf.Client.Builds;

namespace Wharf.Cli.Commands.Builds;

/// <summary>
/// The build verbs: <c>build</c>, <c>builds</c>, <c>status</c>, <c>logs</c>, <c>retry</c>, <c>cancel</c>, over
/// <see cref="BuildsClient"/> with the shared client context: the global <c>--server</c>/<c>--output</c>, the server of
/// the last <c>wharf login</c> and its stored credentials, and the exit codes of docs/cli.md.
/// </summary>
public static class BuildCommands
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Subcommands.Add(Build());
        root.Subcommands.Add(List());
        root.Subcommands.Add(Status());
        root.Subcommands.Add(Logs());
        root.Subcommands.Add(Change("retry", "Retry a failed build (a failed push is pushed again without rebuilding).", (c, id, ct) => c.RetryAsync(id, ct)));
        root.Subcommands.Add(Change("cancel", "Cancel a queued or running build.", (c, id, ct) => c.CancelAsync(id, ct)));
    }

    private static async Task<BuildsClient> ClientAsync(CliContext context)
    {
        var server = await context.ServerAsync();
        return new BuildsClient(server, await context.CredentialAsync(server));
    }

    private static Command Build()
    {
        var tag = new Option<string>("--tag", "-t") { Description = "The image: namespace/name:tag on the server, or a full reference to an external registry.", Required = true };
        var file = new Option<string?>("--file", "-f") { Description = "The Dockerfile (default CONTEXT/Dockerfile, or ./Dockerfile without a context)." };
        var args = new Option<string[]>("--build-arg") { Description = "KEY=VALUE, repeatable." };
        var target = new Option<string?>("--target") { Description = "The stage to build." };
        var platform = new Option<string?>("--platform") { Description = "os/arch[/variant] to build for." };
        var context = new Argument<string?>("CONTEXT") { Description = "A folder sent as the build context (streamed as a tar.gz); without it the Dockerfile is sent alone.", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("build", "Build an image on Wharf, push it, and follow its log; exits non-zero when the build fails.") { tag, file, args, target, platform, context };
        CliContext.SetAction(command, async cli =>
        {
            var image = cli.Parse.GetValue(tag)!.Trim();
            var buildArgs = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in cli.Parse.GetValue(args) ?? [])
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0) throw new WharfClientException(ClientErrorKind.InvalidInput, $"--build-arg '{pair}' is not KEY=VALUE.");
                buildArgs[pair[..equals]] = pair[(equals + 1)..];
            }
            var contextDir = cli.Parse.GetValue(context);
            var request = new BuildRequest
            {
                Image = image,
                ContextDirectory = contextDir,
                DockerfilePath = cli.Parse.GetValue(file),
                BuildArgs = buildArgs,
                Target = cli.Parse.GetValue(target),
                Platform = cli.Parse.GetValue(platform),
            };
            using var client = await ClientAsync(cli);
            var build = await client.SubmitAsync(request, cli.CancellationToken);
            if (!cli.Json) await Console.Error.WriteLineAsync($"Build {build.Id} queued for {build.Image} on {client.Server.ToString().TrimEnd('/')}");
            await FollowAsync(cli, client, build.Id, echo: !cli.Json);
            var final = await client.GetAsync(build.Id, cli.CancellationToken);
            Report(cli, final);
            return final.Succeeded ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }

    private static Command List()
    {
        var state = new Option<string?>("--state") { Description = "queued, running, succeeded, failed, cancelled or timed_out." };
        var repository = new Option<string?>("--repository") { Description = "Only builds of this repository (namespace/name)." };
        var limit = new Option<int?>("--limit", "-n") { Description = "At most this many builds (default 50)." };
        var command = new Command("builds", "List your builds, newest first.") { state, repository, limit };
        CliContext.SetAction(command, async cli =>
        {
            if (cli.Parse.GetValue(limit) is { } max && max is < 1 or > 500) throw new WharfClientException(ClientErrorKind.InvalidInput, $"--limit must be between 1 and 500, not {max}.");
            using var client = await ClientAsync(cli);
            var page = await client.ListAsync(cli.Parse.GetValue(state), cli.Parse.GetValue(repository), cli.Parse.GetValue(limit), null, cli.CancellationToken);
            var builds = page.Builds ?? [];
            if (cli.Json)
            {
                cli.WriteJson(new JsonObject { ["builds"] = new JsonArray([.. builds.Select(b => (JsonNode)ToJson(b))]), ["next_cursor"] = page.NextCursor });
                return ExitCodes.Ok;
            }
            if (builds.Count == 0)
            {
                cli.Say("No builds.");
                return ExitCodes.Ok;
            }
            var table = cli.NewTable(new TableColumn("ID").NoWrap(), new TableColumn("STATE"), new TableColumn("BUILD"), new TableColumn("PUSH"),
                new TableColumn("CREATED").NoWrap(), new TableColumn("IMAGE"));
            foreach (var b in builds)
            {
                table.AddRow(b.Id, Markup.Escape(b.State ?? ""), Markup.Escape(b.BuildStatus ?? ""), Markup.Escape(b.PushStatus ?? ""),
                    b.CreatedAt?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "", Markup.Escape(b.Image ?? ""));
            }
            cli.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Status()
    {
        var id = new Argument<string>("ID") { Description = "The build's id." };
        var command = new Command("status", "Show a build's state, phases, digest and error.") { id };
        CliContext.SetAction(command, async cli =>
        {
            using var client = await ClientAsync(cli);
            Report(cli, await client.GetAsync(ParseId(cli.Parse.GetValue(id)), cli.CancellationToken), toStdout: true);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Logs()
    {
        var id = new Argument<string>("ID") { Description = "The build's id." };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep streaming until the build ends; exits non-zero unless it succeeded." };
        var command = new Command("logs", "Print a build's log (timestamped lines).") { id, follow };
        CliContext.SetAction(command, async cli =>
        {
            var buildId = ParseId(cli.Parse.GetValue(id));
            using var client = await ClientAsync(cli);
            if (cli.Parse.GetValue(follow))
            {
                var lines = new List<string>();
                var state = await FollowAsync(cli, client, buildId, echo: !cli.Json, lines, keepTimestamps: true);
                if (cli.Json) cli.WriteJson(new JsonObject { ["id"] = buildId, ["state"] = state, ["lines"] = new JsonArray([.. lines.Select(l => (JsonNode)l)]) });
                return state == "succeeded" ? ExitCodes.Ok : ExitCodes.Failure;
            }
            var text = await client.GetLogsAsync(buildId, cli.CancellationToken);
            if (cli.Json)
            {
                cli.WriteJson(new JsonObject { ["id"] = buildId, ["lines"] = new JsonArray([.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => (JsonNode)l)]) });
            }
            else
            {
                Console.Out.Write(text);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Change(string name, string description, Func<BuildsClient, string, CancellationToken, Task<BuildInfo>> action)
    {
        var id = new Argument<string>("ID") { Description = "The build's id." };
        var command = new Command(name, description) { id };
        CliContext.SetAction(command, async cli =>
        {
            using var client = await ClientAsync(cli);
            Report(cli, await action(client, ParseId(cli.Parse.GetValue(id)), cli.CancellationToken), toStdout: true);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// Follows the log to its end and returns the final state. With <paramref name="echo"/>, each line goes to stdout as it
    /// comes (without its timestamp unless asked), and on a terminal a progress line shows the state and elapsed time.
    /// </summary>
    private static async Task<string> FollowAsync(CliContext cli, BuildsClient client, string id, bool echo, List<string>? collect = null, bool keepTimestamps = false)
    {
        var clock = Stopwatch.StartNew();
        string? step = null;
        async Task<string> Run(Action<string>? progress)
        {
            await foreach (var e in client.FollowLogsAsync(id, cli.CancellationToken))
            {
                if (e.IsEnd) return e.EndState!;
                var line = keepTimestamps ? e.Line! : StripTimestamp(e.Line!);
                collect?.Add(e.Line!);
                if (StripTimestamp(e.Line!) is var text && text.StartsWith("STEP ", StringComparison.Ordinal)) step = text.Split(':')[0];
                if (echo)
                {
                    if (progress is not null) cli.Terminal.WriteLine(line);
                    else await Console.Out.WriteLineAsync(line);
                }
                progress?.Invoke($"{step ?? "waiting for a worker"} · {clock.Elapsed.TotalSeconds:0}s");
            }
            return "unknown";
        }
        if (!echo || !cli.Interactive) return await Run(null);
        return await cli.Terminal.Status().Spinner(Spinner.Known.Dots).StartAsync($"Build {id}", async status =>
        {
            using var timer = new Timer(_ => status.Status(Markup.Escape($"Build {id}: {step ?? "waiting for a worker"} · {clock.Elapsed.TotalSeconds:0}s")), null, 1000, 1000);
            return await Run(text => status.Status(Markup.Escape($"Build {id}: {text}")));
        });
    }

    /// <summary>Log lines come as <c>2024-01-02T03:04:05.678Z text</c>.</summary>
    private static string StripTimestamp(string line) => line.Length >= 25 && line[24] == ' ' && line[23] == 'Z' ? line[25..] : line;

    private static string ParseId(string? text)
    {
        if (!Guid.TryParse(text, out var id)) throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{text}' is not a build id (a UUID, as 'wharf builds' lists them).");
        return id.ToString();
    }

    /// <summary>The build as one JSON document (with -o json) or one summary line (stderr after a build, stdout for status).</summary>
    private static void Report(CliContext cli, BuildInfo build, bool toStdout = false)
    {
        if (cli.Json)
        {
            cli.WriteJson(ToJson(build));
            return;
        }
        var line = $"{build.Id} {build.State} (build {build.BuildStatus}, push {build.PushStatus}) {build.Image}";
        if (build.Digest is { } digest) line += $" {digest}";
        if (build.Error?.Message is { } message) line += $" — {build.Error.Kind}: {message}";
        if (toStdout) Console.Out.WriteLine(line);
        else Console.Error.WriteLine(line);
    }

    /// <summary>Everything the server says about a build, under the API's own names.</summary>
    private static JsonObject ToJson(BuildInfo b) => new()
    {
        ["id"] = b.Id,
        ["owner"] = b.Owner,
        ["namespace"] = b.Namespace,
        ["image"] = b.Image,
        ["registry"] = b.Registry,
        ["repository"] = b.Repository,
        ["tag"] = b.Tag,
        ["state"] = b.State,
        ["build_status"] = b.BuildStatus,
        ["push_status"] = b.PushStatus,
        ["dockerfile_path"] = b.DockerfilePath,
        ["target"] = b.Target,
        ["platform"] = b.Platform,
        ["build_args"] = b.BuildArgs is null ? null : new JsonObject(b.BuildArgs.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))),
        ["attempts"] = b.Attempts,
        ["build_runs"] = b.BuildRuns,
        ["push_attempts"] = b.PushAttempts,
        ["created_at"] = b.CreatedAt,
        ["started_at"] = b.StartedAt,
        ["finished_at"] = b.FinishedAt,
        ["digest"] = b.Digest,
        ["pushed_reference"] = b.PushedReference,
        ["error"] = b.Error is null ? null : new JsonObject { ["kind"] = b.Error.Kind, ["message"] = b.Error.Message },
    };
}
