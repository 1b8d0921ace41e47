using System.Net;
using Wharf.Core.Builds.Dockerfiles;

namespace Wharf.Core.Tests.Builds;

/// <summary>The Dockerfile review: how Dockerfiles are read, what they may name, and how images are resolved.</summary>
public sealed class BuildOriginPolicyTests
{
    private const string Own = "127.0.0.1:5000";
    private static readonly Dictionary<string, string> NoArgs = new();

    private static BuildOriginPolicy Policy(string[]? registries = null, string[]? urls = null, Func<string, IReadOnlyList<IPAddress>>? resolve = null) =>
        new(Own, ["localhost:5000"], registries ?? [], urls ?? [], resolve ?? (_ => [IPAddress.Parse("192.0.2.10")]));

    [Theory]
    [InlineData("busybox", "127.0.0.1:5000/library/busybox:latest")]
    [InlineData("busybox:1.36", "127.0.0.1:5000/library/busybox:1.36")]
    [InlineData("alice/base:1", "127.0.0.1:5000/alice/base:1")]
    [InlineData("localhost:5000/alice/base", "127.0.0.1:5000/alice/base:latest")]
    [InlineData("127.0.0.1:5000/a/b/c:2", "127.0.0.1:5000/a/b/c:2")]
    [InlineData("alice/base@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "127.0.0.1:5000/alice/base@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void Short_and_own_names_resolve_to_this_Wharf(string name, string expected)
    {
        Assert.Equal(expected, Policy().Resolve(name, out var problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("127.0.0.1:5001/x:1")]
    [InlineData("hub.registry.test/library/busybox")]
    [InlineData("127.0.0.2:5000/team/app")]
    [InlineData("registry.example.test/team/app:1")]
    public void Other_registries_are_refused_unless_listed(string name)
    {
        Assert.Null(Policy().Resolve(name, out var problem));
        Assert.Contains("Wharf:Builds:AllowedRegistries", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Listed_registries_match_by_host_prefix_and_domain_and_a_domain_never_opens_an_internal_host()
    {
        var policy = Policy(["registry.example.test/team", "*.mirror.test"], resolve: host => host == "inside.mirror.test" ? [IPAddress.Loopback] : [IPAddress.Parse("192.0.2.10")]);
        Assert.NotNull(policy.Resolve("registry.example.test/team/app:1", out _));
        Assert.NotNull(policy.Resolve("registry.example.test/team", out _));
        Assert.Null(policy.Resolve("registry.example.test/teammate/app:1", out _));
        Assert.Null(policy.Resolve("registry.example.test/other/app:1", out _));
        Assert.NotNull(policy.Resolve("eu.mirror.test/x:1", out _));
        Assert.Null(policy.Resolve("inside.mirror.test/x:1", out _));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/secret")]
    [InlineData("https://example.test/file")]
    [InlineData("git@github.test:owner/repo.git")]
    [InlineData("ftp://files.example.test/x")]
    public void Urls_are_refused_when_none_are_listed(string url)
    {
        Assert.Contains("Wharf:Builds:AllowedUrls", Policy().CheckUrl(url), StringComparison.Ordinal);
    }

    [Fact]
    public void Url_prefixes_allow_what_they_name_and_any_host_entries_never_reach_internal_addresses()
    {
        var policy = Policy(urls: ["https://example.test/downloads/", "https://", "http://127.0.0.1:8080/allowed/"],
            resolve: host => host == "rebind.test" ? [IPAddress.Parse("127.0.0.2")] : [IPAddress.Parse("192.0.2.10")]);
        Assert.Null(policy.CheckUrl("https://example.test/downloads/tool.tgz"));
        Assert.Null(policy.CheckUrl("https://anything.elsewhere.test/x"));
        Assert.Null(policy.CheckUrl("http://127.0.0.1:8080/allowed/file"));
        Assert.NotNull(policy.CheckUrl("http://127.0.0.1:8080/other"));
        Assert.NotNull(policy.CheckUrl("https://127.0.0.1/x"));
        Assert.NotNull(policy.CheckUrl("https://[::1]/x"));
        Assert.NotNull(policy.CheckUrl("https://localhost/"));
        Assert.NotNull(policy.CheckUrl("https://rebind.test/"));
        Assert.NotNull(policy.CheckUrl("http://example.test/downloads/tool.tgz"));
    }

    [Fact]
    public void The_review_sees_through_continuations_escapes_variables_json_and_stages()
    {
        var policy = Policy();
        string? Refusal(string dockerfile, Dictionary<string, string>? args = null) => policy.Review(dockerfile, args ?? NoArgs).Refusal;

        Assert.Null(Refusal("FROM busybox AS base\nFROM base\nCOPY --from=base /a /a\nCOPY --from=0 /b /b\n"));
        Assert.NotNull(Refusal("FROM busybox\nADD \\\n  http://127.0.0.1:9/x \\\n  /x\n"));
        Assert.NotNull(Refusal("# escape=`\nFROM busybox\nADD `\n  http://127.0.0.1:9/x /x\n"));
        Assert.NotNull(Refusal("FROM busybox\nADD [\"http://127.0.0.1:9/x\", \"/x\"]\n"));
        Assert.NotNull(Refusal("FROM busybox\nARG U=h\\ttp://127.0.0.1:9/x\nADD $U /x\n"));
        Assert.NotNull(Refusal("FROM busybox\nENV BASE=http://127.0.0.1:9\nADD ${BASE}/x /x\n"));
        Assert.NotNull(Refusal("FROM busybox\nARG U\nADD ${U:-http://127.0.0.1:9/x} /x\n"));
        Assert.NotNull(Refusal("FROM busybox\nARG U\nADD $U /x\n", new() { ["U"] = "http://127.0.0.1:9/x" }));
        Assert.Null(Refusal("FROM busybox\nADD '$NOTHING' /x\n"));
        Assert.NotNull(Refusal("ARG BASE=127.0.0.1:1/x\nFROM ${BASE}\n"));
        Assert.Null(Refusal("ARG BASE=127.0.0.1:1/x\nFROM ${BASE}\n", new() { ["BASE"] = "busybox" }));
        Assert.NotNull(Refusal("FROM busybox\nRUN --mount=type=bind,from=127.0.0.1:1/tools,target=/t true\n"));
        Assert.NotNull(Refusal("FROM busybox\nRUN --mount=type=cache,id=../../etc,target=/c true\n"));
        Assert.NotNull(Refusal("FROM busybox\nADD ${U##*/} /x\n"));
        Assert.Null(Refusal("FROM busybox\n# ADD http://127.0.0.1:9/x /x\nRUN echo 'ADD http://127.0.0.1:9/ is only text'\n"));
    }

    [Fact]
    public void The_reviewed_text_names_every_image_fully_and_keeps_line_numbers()
    {
        var review = Policy().Review("FROM busybox AS a\nRUN true\nFROM \\\n  alice/base:1\nCOPY --from=busybox:2 /x /x\nCOPY --from=a /y /y\n", NoArgs);

        Assert.True(review.Allowed, review.Refusal);
        var lines = review.Dockerfile.Split('\n');
        Assert.Equal("FROM 127.0.0.1:5000/library/busybox:latest AS a", lines[0]);
        Assert.Equal("FROM 127.0.0.1:5000/alice/base:1", lines[2]);
        Assert.Equal("", lines[3]);
        Assert.Equal("COPY --from=127.0.0.1:5000/library/busybox:2 /x /x", lines[4]);
        Assert.Equal("COPY --from=a /y /y", lines[5]);
        Assert.Equal(["127.0.0.1:5000/library/busybox:latest", "127.0.0.1:5000/alice/base:1", "127.0.0.1:5000/library/busybox:2"], review.Images.Select(i => i.Reference));
    }

    [Fact]
    public void Base_images_environments_and_onbuild_triggers_are_reviewed_once_pulled()
    {
        var policy = Policy();
        const string dockerfile = "FROM alice/base:1\nADD $SOURCE /x\n";
        Assert.True(policy.Review(dockerfile, NoArgs).Allowed);
        var fromEnv = new Dictionary<string, BaseImageInfo> { ["127.0.0.1:5000/alice/base:1"] = new(["SOURCE=http://127.0.0.1:9/x"], []) };
        Assert.Contains("AllowedUrls", policy.Review(dockerfile, NoArgs, fromEnv).Refusal, StringComparison.Ordinal);
        var trigger = new Dictionary<string, BaseImageInfo> { ["127.0.0.1:5000/alice/base:1"] = new([], ["ADD http://127.0.0.1:9/x /x"]) };
        Assert.Contains("ONBUILD", policy.Review("FROM alice/base:1\n", NoArgs, trigger).Refusal, StringComparison.Ordinal);
    }

    // Pure classification of address literals: nothing here is resolved or contacted. The public rows use the
    // documentation ranges (RFC 5737, RFC 3849), which are never routed.
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("192.0.2.10", false)]
    [InlineData("2001:db8::10", false)]
    public void Internal_addresses_are_recognised(string address, bool internalAddress)
    {
        Assert.Equal(internalAddress, BuildOriginPolicy.IsInternal(IPAddress.Parse(address)));
    }
}
