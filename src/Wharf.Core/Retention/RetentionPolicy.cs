using System.Text.RegularExpressions;
using Wharf.Core.Digests;
using Wharf.Core.Policies;

namespace Wharf.Core.Retention;

/// <summary>
/// A repository's retention rules, each optional: keep the <see cref="KeepLast"/> most recently pushed tags, keep tags
/// pulled within <see cref="KeepPulledWithinDays"/> days, keep tags whose whole name matches
/// <see cref="KeepTagsMatching"/> (a regular expression). A tag that no rule keeps is deleted by the collector's pass
/// (then its manifest and blobs, when nothing else keeps them). No rule set: retention keeps everything.
/// Immutable tags are never deleted.
/// </summary>
public sealed record RetentionPolicy(int? KeepLast, int? KeepPulledWithinDays, string? KeepTagsMatching)
{
    public const int MaxKeepLast = 100_000;
    public const int MaxDays = 36_500;
    public const int MaxPatternLength = 256;

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    /// <summary>True when no rule is set: the repository has no retention.</summary>
    public bool IsEmpty => KeepLast is null && KeepPulledWithinDays is null && KeepTagsMatching is null;

    /// <summary>Why the rules can't be used, or null.</summary>
    public string? Problem()
    {
        if (KeepLast is < 0 or > MaxKeepLast) return $"keep_last is a whole number from 0 to {MaxKeepLast}.";
        if (KeepPulledWithinDays is < 1 or > MaxDays) return $"keep_pulled_within_days is a whole number of days from 1 to {MaxDays}.";
        if (KeepTagsMatching is not null)
        {
            if (KeepTagsMatching.Length == 0) return "keep_tags_matching must not be empty (leave it out, or null, for no pattern).";
            if (KeepTagsMatching.Length > MaxPatternLength) return $"keep_tags_matching has at most {MaxPatternLength} characters.";
            try
            {
                _ = new Regex(Anchored(KeepTagsMatching), RegexOptions.CultureInvariant, MatchTimeout);
            }
            catch (ArgumentException e)
            {
                return $"keep_tags_matching '{KeepTagsMatching}' is not a regular expression: {e.Message}";
            }
        }
        return null;
    }

    /// <summary>
    /// The tags that no rule keeps, oldest push first. <paramref name="immutable"/> patterns keep their tags whatever the
    /// rules say. A pattern that times out counts as keeping the tag: deleting is the side that cannot be undone.
    /// </summary>
    public IReadOnlyList<RetainedTag> Expired(IReadOnlyList<RetainedTag> tags, DateTimeOffset now, IReadOnlyList<string> immutable)
    {
        if (IsEmpty) return [];
        var pulledSince = KeepPulledWithinDays is { } days ? now - TimeSpan.FromDays(days) : (DateTimeOffset?)null;
        var newestFirst = tags.OrderByDescending(t => t.PushedAt).ThenByDescending(t => t.Tag, StringComparer.Ordinal).ToList();
        var expired = new List<RetainedTag>();
        for (var i = 0; i < newestFirst.Count; i++)
        {
            var tag = newestFirst[i];
            if (KeepLast is { } last && i < last) continue;
            if (pulledSince is { } since && tag.LastPulledAt >= since) continue;
            if (KeepTagsMatching is not null && Matches(tag.Tag)) continue;
            if (immutable.Count > 0 && ImmutableTagRules.MatchingRule(immutable, tag.Tag) is not null) continue;
            expired.Add(tag);
        }
        expired.Reverse();
        return expired;
    }

    private bool Matches(string tag)
    {
        try
        {
            return Regex.IsMatch(tag, Anchored(KeepTagsMatching!), RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (RegexMatchTimeoutException)
        {
            return true;
        }
    }

    private static string Anchored(string pattern) => $"^(?:{pattern})$";
}

/// <summary>A tag as retention sees it: what it points at, when it was last pushed (moved) and last pulled.</summary>
public sealed record RetainedTag(string Tag, Digest Digest, DateTimeOffset PushedAt, DateTimeOffset? LastPulledAt);

/// <summary>A repository with retention rules, and its immutable tag patterns.</summary>
public sealed record RepositoryRetention(string Repository, RetentionPolicy Policy, IReadOnlyList<string> ImmutableTags);

/// <summary>A tag that retention deleted (or that a dry run would delete).</summary>
public sealed record ExpiredTag(string Repository, string Tag, Digest Digest);
