using System.Globalization;
using Wharf.Core.Digests;

namespace Wharf.Storage.S3;

/// <summary>
/// Where things live in the bucket, under the configured prefix:
/// <code>
/// blobs/&lt;alg&gt;/&lt;first two hex&gt;/&lt;hex&gt;     a blob, content-addressed, immutable (as on the file system)
/// uploads/&lt;uuid&gt;/state/&lt;seq&gt;           the session's state after its seq-th change: a JSON header, then the tail
///                                     (the last bytes received, fewer than a part); written create-only
/// uploads/&lt;uuid&gt;/data-&lt;generation&gt;     the session's multipart upload, or the object it was assembled into
/// </code>
/// </summary>
internal sealed class S3Keys(string prefix)
{
    public string Prefix { get; } = prefix;

    public string BlobsPrefix => Prefix + "blobs/";

    public string UploadsPrefix => Prefix + "uploads/";

    public string Blob(Digest digest)
    {
        if (digest.Algorithm is null || digest.Hex is null) throw new ArgumentException("The digest is empty.", nameof(digest));
        return $"{BlobsPrefix}{digest.Algorithm}/{digest.Hex[..2]}/{digest.Hex}";
    }

    public string Session(Guid id) => string.Concat(UploadsPrefix, id.ToString("D"), "/");

    public string States(Guid id) => Session(id) + "state/";

    public string State(Guid id, long sequence) => States(id) + sequence.ToString("D10", CultureInfo.InvariantCulture);

    public string Data(Guid id, int generation) => Session(id) + "data-" + generation.ToString(CultureInfo.InvariantCulture);

    /// <summary>The digest a blob key stands for; false for anything else under <c>blobs/</c>.</summary>
    public bool TryParseBlob(string key, out Digest digest)
    {
        digest = default;
        if (!key.StartsWith(BlobsPrefix, StringComparison.Ordinal)) return false;
        var parts = key.AsSpan(BlobsPrefix.Length);
        var slash1 = parts.IndexOf('/');
        if (slash1 <= 0) return false;
        var algorithm = parts[..slash1];
        var rest = parts[(slash1 + 1)..];
        var slash2 = rest.IndexOf('/');
        if (slash2 != 2) return false;
        var hex = rest[3..];
        if (!hex.StartsWith(rest[..2], StringComparison.Ordinal)) return false;
        return Digest.TryParse(string.Concat(algorithm, ":", hex), out digest);
    }

    /// <summary>The session and, for a state key, its sequence number (else -1); false for keys not under <c>uploads/&lt;uuid&gt;/</c>.</summary>
    public bool TryParseSessionKey(string key, out Guid id, out long sequence)
    {
        id = default;
        sequence = -1;
        if (!key.StartsWith(UploadsPrefix, StringComparison.Ordinal)) return false;
        var rest = key.AsSpan(UploadsPrefix.Length);
        if (rest.Length < 37 || rest[36] != '/' || !Guid.TryParseExact(rest[..36], "D", out id)) return false;
        var inside = rest[37..];
        if (inside.StartsWith("state/", StringComparison.Ordinal)
            && long.TryParse(inside[6..], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            sequence = seq;
        }
        return true;
    }
}
