using System.Collections.Concurrent;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wharf.Core;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Readiness of the file-system blob store: the <c>blobs</c>, <c>uploads</c> and <c>tmp</c> folders are folders
/// that can be listed, and a small file can be written, synced and removed in <c>tmp</c> (where uploads are written).
/// The probe runs off the request thread and is abandoned when the check's time is up (a hung mount); one probe
/// at a time per store, so a hung one makes the next checks fail on time instead of piling up threads.
/// </summary>
public sealed class FileSystemHealthCheck(FileSystemBlobStore store) : IHealthCheck
{
    /// <summary>Tags of the registration: readiness, and the provider <c>/readyz</c> names.</summary>
    public static readonly string[] Tags = [HealthTags.Ready, HealthTags.Provider("filesystem")];

    private static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        var root = store.RootPath;
        var gate = Gates.GetOrAdd(root, static _ => new SemaphoreSlim(1, 1));
        try
        {
            await Task.Run(async () =>
            {
                await gate.WaitAsync(CancellationToken.None);
                try
                {
                    Probe(root);
                }
                finally
                {
                    gate.Release();
                }
            }, CancellationToken.None).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy("The blob folder is readable and writable.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The blob folder is not usable: {e.Message}", null);
        }
    }

    /// <summary>The file the probe writes: one name per process (probes of one store never overlap).</summary>
    public static string ProbePath(string root) => Path.Combine(root, "tmp", $".readyz-{Environment.ProcessId}");

    private static void Probe(string root)
    {
        foreach (var name in (string[])["blobs", "uploads", "tmp"])
        {
            var folder = Path.Combine(root, name);
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder} is missing or is not a folder.");
            using var entries = Directory.EnumerateFileSystemEntries(folder).GetEnumerator();
            entries.MoveNext();
        }
        var probe = ProbePath(root);
        try
        {
            using (var file = new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                file.WriteByte(1);
                file.Flush(flushToDisk: true);
            }
        }
        finally
        {
            File.Delete(probe);
        }
    }
}
