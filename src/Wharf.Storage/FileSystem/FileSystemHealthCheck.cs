using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Wharf.Storage.FileSystem;

/// <summary>
/// Readiness of the file-system blob store: the <c>blobs</c>, <c>uploads</c> and <c>tmp</c> folders are folders
/// that can be listed, and a small file can be written, synced and removed in <c>tmp</c> (where uploads are written).
/// The probe runs off the request thread and is abandoned when the check's time is up (a hung mount).
/// </summary>
public sealed class FileSystemHealthCheck(FileSystemBlobStore store) : IHealthCheck
{
    /// <summary>Tags of the registration: readiness, and the provider <c>/readyz</c> names.</summary>
    public static readonly string[] Tags = ["ready", "provider:filesystem"];

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => Probe(store.RootPath), cancellationToken).WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy("The blob folder is readable and writable.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The blob folder is not usable: {e.Message}", null);
        }
    }

    private static void Probe(string root)
    {
        foreach (var name in (string[])["blobs", "uploads", "tmp"])
        {
            var folder = Path.Combine(root, name);
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder} is missing or is not a folder.");
            using var entries = Directory.EnumerateFileSystemEntries(folder).GetEnumerator();
            entries.MoveNext();
        }
        var probe = Path.Combine(root, "tmp", $".readyz-{Guid.NewGuid():N}");
        try
        {
            using (var file = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
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
