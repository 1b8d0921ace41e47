namespace Wharf.Client.Images;

/// <summary>A temp folder removed on dispose (for archive extraction and compressed layers).</summary>
public sealed class TempFolder : IAsyncDisposable, IDisposable
{
    private TempFolder(string path) => Path = path;

    public string Path { get; }

    public static TempFolder Create(string prefix, string? parent = null)
    {
        if (parent is null) return new TempFolder(Directory.CreateTempSubdirectory(prefix).FullName);
        var path = System.IO.Path.Combine(parent, $"{prefix}{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return new TempFolder(path);
    }

    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
