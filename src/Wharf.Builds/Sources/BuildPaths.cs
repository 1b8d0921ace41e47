using System.Security.Cryptography;
using System.Text;

namespace Wharf.Builds.Sources;

/// <summary>
/// Where the build service keeps files, under one root (default <c>&lt;data&gt;/builds</c>):
/// <c>sources/&lt;id&gt;</c> (uploads), <c>work/&lt;id&gt;</c> (a running build's unpacked context and its engine files),
/// <c>storage/&lt;namespace&gt;</c> (buildah's storage and layer cache per namespace); and, outside the data folder (whose
/// mode a build's user namespace cannot pass), <c>&lt;temp&gt;/&lt;namespace&gt;</c> for the engine's temporary files and
/// cache mounts.
/// </summary>
public sealed class BuildPaths
{
    public BuildPaths(string root, string? tempRoot = null)
    {
        Root = Path.GetFullPath(root);
        Instance = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Root)))[..12];
        TempRoot = Path.GetFullPath(tempRoot ?? Path.Combine(Directory.Exists("/var/tmp") ? "/var/tmp" : Path.GetTempPath(), "wharf-builds-" + Instance));
    }

    public string Root { get; }

    /// <summary>A short id of this builds folder, naming what belongs to it outside it (temp folders, cgroups).</summary>
    public string Instance { get; }

    public string TempRoot { get; }

    public string Source(Guid id) => Path.Combine(Root, "sources", id.ToString("N"));

    public string WorkRoot => Path.Combine(Root, "work");

    public string Work(Guid id) => Path.Combine(WorkRoot, id.ToString("N"));

    public string StorageRoot => Path.Combine(Root, "storage");

    public string Storage(string @namespace) => Path.Combine(StorageRoot, SafeSegment(@namespace));

    public string Temp(string @namespace) => Path.Combine(TempRoot, SafeSegment(@namespace));

    private static string SafeSegment(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var text = new string(chars).Trim('.');
        return text.Length == 0 ? "_" : text;
    }
}
