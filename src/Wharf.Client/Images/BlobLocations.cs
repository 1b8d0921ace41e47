using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Core.Digests;

namespace Wharf.Client.Images;

/// <summary>
/// Remembers, per registry, one repository where each blob was last seen (pushed or pulled), so that a push into another
/// repository can ask for a cross-repository mount instead of uploading. Kept in <c>$XDG_CACHE_HOME/wharf/blob-locations.json</c>,
/// at most <see cref="Capacity"/> entries; losing it only costs uploads.
/// </summary>
public sealed class BlobLocations(string path)
{
    public const int Capacity = 5000;
    private JsonObject _entries = new();

    public static BlobLocations Default()
    {
        var dir = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(dir)) dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return new BlobLocations(Path.Combine(dir, "wharf", "blob-locations.json"));
    }

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (File.Exists(path)) _entries = JsonNode.Parse(await File.ReadAllTextAsync(path, cancellationToken)) as JsonObject ?? new JsonObject();
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            _entries = new JsonObject();
        }
    }

    public string? Find(string registry, Digest digest, string exceptRepository)
    {
        lock (_entries)
        {
            return (string?)_entries[$"{registry} {digest}"] is { } repo && repo != exceptRepository ? repo : null;
        }
    }

    public void Remember(string registry, string repository, IEnumerable<Digest> digests)
    {
        lock (_entries)
        {
            foreach (var digest in digests)
            {
                var key = $"{registry} {digest}";
                _entries.Remove(key);
                _entries[key] = repository; // newest last
            }
            while (_entries.Count > Capacity) _entries.Remove(_entries.First().Key);
        }
    }

    public async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + $".{Environment.ProcessId}.tmp";
            string text;
            lock (_entries) text = _entries.ToJsonString();
            await File.WriteAllTextAsync(temp, text, cancellationToken);
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
