namespace Wharf.Server.Configuration;

/// <summary>The top of Wharf's configuration (section <c>Wharf</c>; environment variables <c>Wharf__…</c>).</summary>
public sealed class WharfOptions
{
    public const string Section = "Wharf";

    /// <summary>Folder for the SQLite file, blobs and upload sessions. Default <c>./data</c>; also <c>--data-dir</c> and <c>WHARF_DATA_DIR</c>.</summary>
    public string DataDir { get; set; } = "data";
}

/// <summary>Section <c>Wharf:Storage</c>: where blobs and upload sessions live.</summary>
public sealed class StorageOptions
{
    public const string Section = "Wharf:Storage";
    public static readonly string[] Types = ["FileSystem"];

    /// <summary>The blob store provider. Default <c>FileSystem</c>.</summary>
    public string Type { get; set; } = "FileSystem";

    /// <summary>Root folder of the file-system store. Default: the data folder.</summary>
    public string? Path { get; set; }
}
