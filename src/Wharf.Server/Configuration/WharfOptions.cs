namespace Wharf.Server.Configuration;

/// <summary>The top of Wharf's configuration (section <c>Wharf</c>; environment variables <c>Wharf__…</c>).</summary>
public sealed class WharfOptions
{
    public const string Section = "Wharf";

    /// <summary>Folder for the SQLite file, blobs and upload sessions. Default <c>./data</c>; also <c>--data-dir</c> and <c>WHARF_DATA_DIR</c>.</summary>
    public string DataDir { get; set; } = "data";
}
