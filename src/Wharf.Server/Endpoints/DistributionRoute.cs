namespace Wharf.Server.Endpoints;

/// <summary>The kinds of resource under <c>/v2/</c>.</summary>
public enum DistributionRouteKind
{
    /// <summary>No route of the API matches the path.</summary>
    None,
    Base,
    Catalog,
    Manifest,
    Blob,
    /// <summary><c>/v2/&lt;name&gt;/blobs/uploads/</c>: start an upload.</summary>
    Uploads,
    /// <summary><c>/v2/&lt;name&gt;/blobs/uploads/&lt;uuid&gt;</c>: one upload session.</summary>
    Upload,
    Tags,
    Referrers,
}

/// <summary>
/// A parsed <c>/v2/</c> path. Repository names may contain slashes, which route templates cannot express, so
/// the path is matched from its end: the last <c>/manifests/</c>, <c>/blobs/</c>, <c>/tags/list</c> or
/// <c>/referrers/</c> segment decides the route and everything before it is the name. The name and the
/// reference are validated later, so that a bad one gets its own error code.
/// </summary>
public readonly record struct DistributionRoute(DistributionRouteKind Kind, string Name = "", string Argument = "")
{
    /// <summary>Parses the part of the path after <c>/v2/</c> (no leading slash).</summary>
    public static DistributionRoute Parse(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty) return new(DistributionRouteKind.Base);
        if (path is "_catalog") return new(DistributionRouteKind.Catalog);
        if (path.EndsWith("/tags/list"))
        {
            return Named(DistributionRouteKind.Tags, path[..^"/tags/list".Length], "");
        }
        if (path.EndsWith("/blobs/uploads"))
        {
            return Named(DistributionRouteKind.Uploads, path[..^"/blobs/uploads".Length], "");
        }
        var lastSlash = path.LastIndexOf('/');
        if (lastSlash <= 0) return default;
        var last = path[(lastSlash + 1)..];
        var head = path[..lastSlash];
        if (head.EndsWith("/blobs/uploads"))
        {
            return Named(last.IsEmpty ? DistributionRouteKind.Uploads : DistributionRouteKind.Upload, head[..^"/blobs/uploads".Length], last);
        }
        if (last.IsEmpty) return default;
        var kindSlash = head.LastIndexOf('/');
        if (kindSlash <= 0) return default;
        var kind = head[(kindSlash + 1)..] switch
        {
            "manifests" => DistributionRouteKind.Manifest,
            "blobs" => DistributionRouteKind.Blob,
            "referrers" => DistributionRouteKind.Referrers,
            _ => DistributionRouteKind.None,
        };
        return kind == DistributionRouteKind.None ? default : Named(kind, head[..kindSlash], last);
    }

    private static DistributionRoute Named(DistributionRouteKind kind, ReadOnlySpan<char> name, ReadOnlySpan<char> argument) =>
        name.IsEmpty ? default : new(kind, name.ToString(), argument.ToString());
}
