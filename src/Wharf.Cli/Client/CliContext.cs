using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;
using Wharf.Client.Credentials;
using Wharf.Client.Registry;

namespace Wharf.Cli.Client;

public enum OutputFormat
{
    Table,
    Json,
}

/// <summary>
/// What every client verb shares: the global options, where the server is, credentials, output (tables and progress bars on
/// a terminal, plain lines otherwise, only JSON with <c>--output json</c>) and the mapping of failures to exit codes.
/// </summary>
internal sealed class CliContext
{
    public static readonly Option<string?> ServerOption = new("--server", "-s")
    {
        Description = "Wharf server, host:port or URL (default: WHARF_SERVER, else the last 'wharf login').",
        Recursive = true,
    };

    public static readonly Option<OutputFormat> OutputOption = new("--output", "-o")
    {
        Description = "table (default; progress and tables for people) or json (one JSON document on stdout, for scripts).",
        Recursive = true,
        DefaultValueFactory = _ => OutputFormat.Table,
    };

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private CliContext(ParseResult parse, CancellationToken cancellationToken)
    {
        Parse = parse;
        CancellationToken = cancellationToken;
        Json = parse.GetValue(OutputOption) == OutputFormat.Json;
        Interactive = !Json && !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") is not "dumb";
        Terminal = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Out),
            Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!Interactive) Terminal.Profile.Width = 400;
    }

    public ParseResult Parse { get; }

    public CancellationToken CancellationToken { get; }

    public bool Json { get; }

    /// <summary>stdout is a terminal and the output is for people: progress bars, colours, prompts.</summary>
    public bool Interactive { get; }

    public IAnsiConsole Terminal { get; }

    public WharfClientConfig Config { get; } = WharfClientConfig.Default();

    public DockerConfigCredentials Credentials { get; } = DockerConfigCredentials.Default();

    /// <summary>Makes a command whose action runs <paramref name="run"/> and turns failures into a message and an exit code.</summary>
    public static void SetAction(Command command, Func<CliContext, Task<int>> run)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            var context = new CliContext(parse, cancellationToken);
            try
            {
                return await run(context);
            }
            catch (WharfClientException e)
            {
                return context.Fail(ExitCodes.For(e.Kind), e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return context.Fail(ExitCodes.Failure, "Cancelled.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return context.Fail(ExitCodes.Failure, e.Message);
            }
        });
    }

    /// <summary>Writes the error (stderr; also a JSON error document on stdout with --output json) and returns the code.</summary>
    public int Fail(int exitCode, string message)
    {
        Console.Error.WriteLine($"wharf: {message}");
        if (Json)
        {
            WriteJson(new JsonObject { ["error"] = new JsonObject { ["exit_code"] = exitCode, ["message"] = message } });
        }
        return exitCode;
    }

    public void WriteJson(JsonNode node) => WriteJsonDocument(node);

    /// <summary>One indented JSON document on stdout, with plain text (no <c>\u0027</c>-style escapes of quotes and brackets).</summary>
    public static void WriteJsonDocument(JsonNode node) => Console.Out.WriteLine(node.ToJsonString(Indented));

    /// <summary>A line for people (not in JSON mode).</summary>
    public void Say(string text)
    {
        if (!Json) Console.Out.WriteLine(text);
    }

    public static ImageReference ParseImage(string? text)
    {
        if (!ImageReference.TryParse(text, out var reference, out var error)) throw new WharfClientException(ClientErrorKind.InvalidInput, error);
        return reference;
    }

    public Task<Uri> ServerAsync(string? imageRegistry = null) =>
        ServerAddress.ResolveAsync(Parse.GetValue(ServerOption), imageRegistry, Config, CancellationToken);

    public async Task<RegistryCredential?> CredentialAsync(Uri server) =>
        await Credentials.GetAsync(ServerAddress.HostKey(server), CancellationToken);

    public async Task<RegistryClient> RegistryAsync(Uri server) => new(server, await CredentialAsync(server));

    /// <summary>Fails fast (exit 5) when nothing answers at the server's address; any HTTP answer counts as reachable.</summary>
    public async Task EnsureReachableAsync(RegistryClient client)
    {
        try
        {
            await client.PingAsync(CancellationToken);
        }
        catch (WharfClientException e) when (e.Kind != ClientErrorKind.Unreachable)
        {
        }
    }

    public async Task<ApiClient> ApiAsync(Uri server) => new(server, await CredentialAsync(server));

    /// <summary>A table for people: borders on a terminal, plain aligned columns otherwise (easy to grep and cut).</summary>
    public Table NewTable(params TableColumn[] columns)
    {
        var table = new Table().AddColumns(columns);
        if (!Interactive) table.Border(TableBorder.None);
        return table;
    }

    public static string Size(long bytes) => ByteSize.Format(bytes);
}
