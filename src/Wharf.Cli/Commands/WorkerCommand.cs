using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Wharf.Core.Builds;
using Wharf.Core.Registry;
using Wharf.Server;

namespace Wharf.Cli.Commands;

/// <summary>
/// <c>wharf worker</c>: build workers only (no HTTP), for scale-out; the same configuration as <c>serve</c>. It leases
/// builds from the shared metadata store and pushes to Wharf at <c>Wharf:Builds:RegistryAddress</c> (<c>--registry</c>).
/// </summary>
public static class WorkerCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new HostCommand("worker", "Run build workers only (no HTTP server), sharing the database with a server.") { TreatUnmatchedTokensAsErrors = false };
        command.Options.Add(new Option<string>("--data-dir") { Description = "Folder for the database and build storage (default ./data; also WHARF_DATA_DIR)." });
        command.Options.Add(new Option<int>("--workers") { Description = "Builds run at once (default: the machine's processors over Wharf:Builds:CpuLimit, its memory over MemoryLimitMiB)." });
        command.Options.Add(new Option<string>("--registry") { Description = "host:port of Wharf's registry to push to (default 127.0.0.1:5000)." });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = rawArgs.SkipWhile(a => a != "worker").Skip(1).ToArray();
            try
            {
                var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
                builder.Configuration.AddEnvironmentVariables();
                builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
                {
                    ["--data-dir"] = "Wharf:DataDir",
                    ["--workers"] = "Wharf:Builds:Workers",
                    ["--registry"] = "Wharf:Builds:RegistryAddress",
                });
                if (Environment.GetEnvironmentVariable("WHARF_DATA_DIR") is { Length: > 0 } fromEnv && builder.Configuration["Wharf:DataDir"] is null)
                {
                    builder.Configuration["Wharf:DataDir"] = fromEnv;
                }
                WharfServer.AddWharf(builder.Services, builder.Configuration);
                using var host = builder.Build();
                if (host.Services.GetRequiredService<BuildOptions>().Workers == 0)
                {
                    await Console.Error.WriteLineAsync("wharf worker: --workers must be at least 1.");
                    return 2;
                }
                await WharfServer.CheckReadinessAsync(host.Services, cancellationToken);
                await WharfServer.PrepareDatabaseAsync(host.Services, cancellationToken);
                await host.RunAsync(cancellationToken);
                return 0;
            }
            catch (WharfConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }
            catch (MetadataStoreUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"wharf worker: {e.Message}");
                return 2;
            }
            catch (ProviderUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"wharf worker: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
