namespace Wharf.Builds.Sources;

/// <summary>
/// Where the build service keeps files, under one root (default <c>&lt;data&gt;/builds</c>):
/// <c>sources/&lt;id&gt;</c> (uploads), <c>work/&lt;id&gt;</c> (a running build's unpacked context),
/// <c>storage/&lt;namespace&gt;</c> (buildah's storage and layer cache per namespace).
/// </summary>
public sealed class BuildPaths(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string Source(Guid id) => Path.Combine(Root, "sources", id.ToString("N"));

    public string Work(Guid id) => Path.Combine(Root, "work", id.ToString("N"));

    public string Storage(string @namespace) => Path.Combine(Root, "storage", SafeSegment(@namespace));

    private static string SafeSegment(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var text = new string(chars).Trim('.');
        return text.Length == 0 ? "_" : text;
    }
}
