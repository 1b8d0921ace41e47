using Wharf.Core.Digests;
using Wharf.Core.Retention;

namespace Wharf.Core.Tests.Retention;

/// <summary>Which tags a repository's retention rules keep: any rule keeps a tag, none set keeps all, immutable tags always stay.</summary>
public sealed class RetentionPolicyTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static RetainedTag Tag(string name, int pushedDaysAgo, int? pulledDaysAgo = null) => new(
        name, Digest.Compute(System.Text.Encoding.UTF8.GetBytes(name)), Now.AddDays(-pushedDaysAgo), pulledDaysAgo is { } p ? Now.AddDays(-p) : null);

    private static readonly RetainedTag[] Tags =
    [
        Tag("v1", 50, pulledDaysAgo: 2),
        Tag("v2", 40),
        Tag("release-3", 30),
        Tag("nightly-4", 20, pulledDaysAgo: 15),
        Tag("nightly-5", 10),
    ];

    private static List<string> Expired(RetentionPolicy policy, params string[] immutable) =>
        [.. policy.Expired(Tags, Now, immutable).Select(t => t.Tag)];

    [Fact]
    public void No_rule_keeps_everything()
    {
        Assert.True(new RetentionPolicy(null, null, null).IsEmpty);
        Assert.Empty(Expired(new RetentionPolicy(null, null, null)));
    }

    [Fact]
    public void Keep_last_keeps_the_most_recently_pushed_and_expires_the_rest_oldest_first()
    {
        Assert.Equal(["v1", "v2", "release-3"], Expired(new RetentionPolicy(2, null, null)));
        Assert.Equal(["v1", "v2", "release-3", "nightly-4", "nightly-5"], Expired(new RetentionPolicy(0, null, null)));
    }

    [Fact]
    public void Any_rule_keeps_a_tag()
    {
        // The last one pushed, those pulled within 7 days, and releases.
        Assert.Equal(["v2", "nightly-4"], Expired(new RetentionPolicy(1, 7, @"release-\d+")));
        Assert.Equal(["v2", "release-3"], Expired(new RetentionPolicy(null, 30, "nightly-.*")));
    }

    [Fact]
    public void The_pattern_must_match_the_whole_tag()
    {
        Assert.Equal(["release-3", "nightly-4", "nightly-5"], Expired(new RetentionPolicy(null, null, @"v\d")));
        Assert.Equal(["v1", "v2", "release-3", "nightly-4", "nightly-5"], Expired(new RetentionPolicy(null, null, "nightly")));
    }

    [Fact]
    public void Immutable_tags_are_never_expired()
    {
        Assert.Equal(["release-3", "nightly-4"], Expired(new RetentionPolicy(1, null, null), @"v\d+"));
    }

    [Theory]
    [InlineData(-1, null, null, "keep_last")]
    [InlineData(null, 0, null, "keep_pulled_within_days")]
    [InlineData(null, null, "", "keep_tags_matching")]
    [InlineData(null, null, "v(", "not a regular expression")]
    public void Unusable_rules_are_refused_with_the_field_named(int? keepLast, int? days, string? pattern, string expected)
    {
        Assert.Contains(expected, new RetentionPolicy(keepLast, days, pattern).Problem(), StringComparison.Ordinal);
        Assert.Null(new RetentionPolicy(5, 30, @"v\d+").Problem());
    }
}
