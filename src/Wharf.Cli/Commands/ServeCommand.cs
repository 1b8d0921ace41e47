using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Wharf.Server;

namespace Wharf.Cli.Commands;

/// <summary><c>wharf serve</c>: the HTTP server with the registry and API.</summary>
public static class ServeCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new Command("serve", "Run the server (default http://localhost:5000, data in ./data).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Options.Add(new Option<string>("--urls") { Description = "Addresses to listen on, e.g. http://0.0.0.0:5000 (default http://localhost:5000)." });
        command.Options.Add(new Option<string>("--data-dir") { Description = "Folder for the database, blobs and uploads (default ./data; also WHARF_DATA_DIR)." });
        command.Options.Add(new Option<int>("--workers") { Description = "Build workers in this process (default 1; 0 serves the API only)." });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = rawArgs.SkipWhile(a => a != "serve").Skip(1).ToArray();
            return await ServerHost.RunAsync(args, cancellationToken);
        });
        return command;
    }
}

/// <summary>Runs a server until it is stopped, turning configuration errors into a message and exit code 2.</summary>
internal static class ServerHost
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            var app = await WharfServer.StartAsync(args, cancellationToken);
            await app.WaitForShutdownAsync(cancellationToken);
            await app.DisposeAsync();
            return 0;
        }
        catch (WharfConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"Cannot listen: {e.Message}");
            return 2;
        }
    }
}
