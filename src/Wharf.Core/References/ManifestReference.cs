using Wharf.Core.Digests;

namespace Wharf.Core.References;

/// <summary>The <c>&lt;tag-or-digest&gt;</c> part of a manifest URL: exactly one of a tag or a digest.</summary>
public readonly record struct ManifestReference
{
    private ManifestReference(string? tag, Digest? digest)
    {
        Tag = tag;
        Digest = digest;
    }

    public string? Tag { get; }
    public Digest? Digest { get; }
    public bool IsDigest => Digest.HasValue;

    public static ManifestReference ForTag(string tag) => new(tag, null);
    public static ManifestReference ForDigest(Digest digest) => new(null, digest);

    /// <summary>Parses a tag or a digest; false when the text is neither.</summary>
    public static bool TryParse(string? text, out ManifestReference reference)
    {
        reference = default;
        if (string.IsNullOrEmpty(text)) return false;
        if (text.Contains(':'))
        {
            if (!Digests.Digest.TryParse(text, out var digest)) return false;
            reference = ForDigest(digest);
            return true;
        }
        if (!RepositoryName.IsValidTag(text)) return false;
        reference = ForTag(text);
        return true;
    }

    public override string ToString() => Tag ?? Digest!.Value.ToString();
}
