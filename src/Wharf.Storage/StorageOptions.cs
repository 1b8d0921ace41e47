namespace Wharf.Storage;

/// <summary>Section <c>Wharf:Storage</c>: where blobs and upload sessions live.</summary>
public sealed class StorageOptions
{
    public const string Section = "Wharf:Storage";
    public const string FileSystemType = "FileSystem";

    /// <summary>The values <see cref="Type"/> may take.</summary>
    public static readonly string[] Types = [FileSystemType];

    /// <summary>The blob store provider. Default <c>FileSystem</c>.</summary>
    public string Type { get; set; } = FileSystemType;

    /// <summary>Root folder of the file-system store. Default: the data folder.</summary>
    public string? Path { get; set; }

    /// <summary>How often idle upload sessions are looked for (they expire after <c>Wharf:Registry:UploadIdleTimeout</c>). Default 1 minute.</summary>
    public TimeSpan UploadExpiryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Every problem with these values, each naming its key and what is allowed.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Types.Contains(Type, StringComparer.OrdinalIgnoreCase))
            yield return $"Wharf:Storage:Type '{Type}' is not known; allowed values: {string.Join(", ", Types)}.";
        if (Path is not null && string.IsNullOrWhiteSpace(Path))
            yield return "Wharf:Storage:Path must name a folder.";
        if (UploadExpiryInterval <= TimeSpan.Zero)
            yield return "Wharf:Storage:UploadExpiryInterval must be positive.";
    }

    /// <summary>True when <see cref="Type"/> is <paramref name="type"/> (case-insensitive, as configuration keys are).</summary>
    public bool Is(string type) => string.Equals(Type, type, StringComparison.OrdinalIgnoreCase);
}
