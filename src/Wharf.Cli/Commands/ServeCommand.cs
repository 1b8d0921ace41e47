using System.CommandLine;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wharf.Core.Registry;
using Wharf.Server;
using Wharf.Server.Configuration;

namespace Wharf.Cli.Commands;

/// <summary><c>wharf serve</c>: the HTTP server with the registry and API.</summary>
public static class ServeCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new HostCommand("serve", "Run the server (default http://localhost:5000, data in ./data).")
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

/// <summary>
/// Runs a server until it is stopped: prints what it runs on once it listens (<see cref="StartupBanner"/>), and turns the
/// usual start-up failures into one line and exit code 2: invalid configuration, an address already in use.
/// </summary>
internal static partial class ServerHost
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        WebApplication app;
        try
        {
            app = WharfServer.Build(args);
        }
        catch (WharfConfigurationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }
        await using (app)
        {
            int applied;
            try
            {
                await WharfServer.CheckReadinessAsync(app.Services, cancellationToken);
                applied = await WharfServer.PrepareDatabaseAsync(app.Services, cancellationToken);
            }
            catch (MetadataStoreUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"wharf serve: {e.Message}");
                return 2;
            }
            catch (ProviderUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"wharf serve: {e.Message}");
                return 2;
            }
            catch (WharfConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException e) when (ListenFailure(e) is { } reason)
            {
                await Console.Error.WriteLineAsync($"wharf serve: {reason}");
                return 2;
            }
            var banner = StartupBanner.Lines(app.Services, WharfServer.BoundAddresses(app), applied);
            // With JSON logs every line on the console is one JSON object (machines read it): the banner becomes a log entry.
            var logger = string.Equals(app.Configuration["Logging:Console:FormatterName"], "json", StringComparison.OrdinalIgnoreCase)
                ? app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Wharf.Serve")
                : null;
            if (logger is null) foreach (var line in banner) Console.WriteLine(line);
            else LogServing(logger, string.Join(", ", WharfServer.BoundAddresses(app)), string.Join("; ", banner.Skip(1).SkipLast(1).Select(l => l.Trim())));
            await app.WaitForShutdownAsync(cancellationToken);
            if (logger is null) Console.WriteLine("Wharf stopped.");
            else LogStopped(logger);
            return 0;
        }
    }

    /// <summary>One line for a socket that would not bind (address in use, no permission), or null for any other failure.</summary>
    internal static string? ListenFailure(IOException e)
    {
        Exception? inner = e;
        while (inner is not null and not SocketException) inner = inner.InnerException;
        if (inner is not SocketException socket) return null;
        var address = BindAddress().Match(e.Message) is { Success: true } m ? m.Groups[1].Value : "the configured address";
        return socket.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse =>
                $"cannot listen on {address}: the port is already in use (another wharf, or another program). Stop it, or choose another address with --urls, e.g. --urls http://localhost:5001.",
            SocketError.AccessDenied =>
                $"cannot listen on {address}: permission denied (ports below 1024 need privileges). Choose another address with --urls, e.g. --urls http://localhost:5000.",
            SocketError.AddressNotAvailable =>
                $"cannot listen on {address}: this machine has no such address. Choose another with --urls, e.g. --urls http://0.0.0.0:5000.",
            _ => $"cannot listen on {address}: {socket.Message}.",
        };
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Wharf is serving on {Addresses}: {Settings}")]
    private static partial void LogServing(ILogger logger, string addresses, string settings);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Wharf stopped")]
    private static partial void LogStopped(ILogger logger);

    [GeneratedRegex(@"bind to address (\S+?):? ", RegexOptions.CultureInvariant)]
    private static partial Regex BindAddress();
}
