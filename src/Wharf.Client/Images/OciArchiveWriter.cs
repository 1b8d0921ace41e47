using System.Formats.Tar;

namespace Wharf.Client.Images;

/// <summary>Writes an OCI layout folder as an OCI archive (a tar of the layout, <c>oci-layout</c> first).</summary>
public static class OciArchiveWriter
{
    public static async Task WriteAsync(string layoutPath, string outputPath, CancellationToken cancellationToken)
    {
        var temp = outputPath + $".{Guid.NewGuid():N}.partial";
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1024 * 1024, FileOptions.Asynchronous))
            await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
            {
                await tar.WriteEntryAsync(Path.Combine(layoutPath, "oci-layout"), "oci-layout", cancellationToken);
                await tar.WriteEntryAsync(Path.Combine(layoutPath, "index.json"), "index.json", cancellationToken);
                foreach (var blob in Directory.EnumerateFiles(Path.Combine(layoutPath, "blobs"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    var name = Path.GetRelativePath(layoutPath, blob).Replace('\\', '/');
                    await tar.WriteEntryAsync(blob, name, cancellationToken);
                }
            }
            File.Move(temp, outputPath, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
