using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Wharf.Core.Gc;
using Wharf.Core.Registry;
using Wharf.Core.Storage;
using Wharf.Server;

namespace Wharf.Cli.Commands;

/// <summary>
/// <c>wharf gc [--dry-run]</c>: one garbage collection against the configured stores (the same configuration as
/// <c>serve</c>), safe while servers run: the collector's lock makes it wait for no one and skip when another collects.
/// </summary>
public static class GcCommand
{
    public static Command Create(string[] rawArgs)
    {
        var command = new Command("gc", "Collect garbage now: unreferenced blobs, untagged manifests, expired uploads (servers may keep running).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Options.Add(new Option<bool>("--dry-run") { Description = "Show what would be deleted; change nothing." });
        command.Options.Add(new Option<string>("--data-dir") { Description = "Folder of the database and blobs (default ./data)." });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var args = rawArgs.SkipWhile(a => a != "gc").Skip(1).Where(a => a != "--dry-run").ToArray();
            var dryRun = rawArgs.Contains("--dry-run");
            try
            {
                await using var app = WharfServer.Build(args);
                await WharfServer.PrepareDatabaseAsync(app.Services, cancellationToken);
                var collector = app.Services.GetRequiredService<GarbageCollector>();
                var report = await collector.RunAsync(dryRun, "cli", cancellationToken);
                if (report is null)
                {
                    await Console.Error.WriteLineAsync("wharf gc: another garbage collection is running; nothing was done.");
                    return 3;
                }
                Print(report);
                return 0;
            }
            catch (WharfConfigurationException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }
            catch (MetadataStoreUnavailableException e)
            {
                await Console.Error.WriteLineAsync($"wharf gc: {e.Message}");
                return 2;
            }
            catch (StorageException e)
            {
                await Console.Error.WriteLineAsync($"wharf gc: {e.Message} Run it again: the next collection finishes the work.");
                return 2;
            }
        });
        return command;
    }

    private static void Print(GcReport report)
    {
        var run = report.Run;
        var verb = run.DryRun ? "would delete" : "deleted";
        foreach (var tag in report.Tags) Console.WriteLine($"{verb} tag {tag.Repository}:{tag.Tag} (retention; it pointed at {tag.Digest})");
        foreach (var manifest in report.Manifests) Console.WriteLine($"{verb} {manifest.Repository}@{manifest.Digest}");
        var freed = Wharf.Client.ByteSize.Format(run.BytesFreed);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Garbage collection {run.Id}{(run.DryRun ? " (dry run)" : "")}: {verb} {run.BlobsDeleted} blobs ({freed}) and {run.ManifestsDeleted} manifests, {run.TagsDeleted} tags by retention" +
            $"{(run.DryRun ? "" : $", expired {run.UploadsExpired} uploads")} in {(run.Duration ?? TimeSpan.Zero).TotalSeconds:0.0} s."));
    }
}
