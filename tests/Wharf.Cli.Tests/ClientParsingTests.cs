using Wharf.Client;
using Wharf.Client.Credentials;
using Wharf.Client.Images;
using Wharf.Client.Registry;

namespace Wharf.Cli.Tests;

/// <summary>The small parsers the client relies on: image references, auth challenges, platforms, server addresses.</summary>
public sealed class ClientParsingTests
{
    [Theory]
    [InlineData("alice/app", null, "alice/app", null)]
    [InlineData("alice/app:1.0", null, "alice/app", "1.0")]
    [InlineData("127.0.0.1:5000/alice/app:1", "127.0.0.1:5000", "alice/app", "1")]
    [InlineData("localhost/team/sub/app", "localhost", "team/sub/app", null)]
    [InlineData("hub.example.test/a/b:x_y", "hub.example.test", "a/b", "x_y")]
    public void Image_references_split_into_registry_repository_and_tag(string text, string? registry, string repository, string? tag)
    {
        Assert.True(ImageReference.TryParse(text, out var reference, out var error), error);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(tag ?? "latest", reference.ManifestReference);
    }

    [Fact]
    public void A_digest_reference_names_the_manifest_by_digest()
    {
        var digest = "sha256:" + new string('a', 64);
        Assert.True(ImageReference.TryParse($"alice/app@{digest}", out var reference, out _));
        Assert.Equal(digest, reference.ManifestReference);
        Assert.False(ImageReference.TryParse("alice/app@sha256:abc", out _, out var error));
        Assert.Contains("digest", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Alice/app")]
    [InlineData("alice/../app")]
    [InlineData("../app")]
    [InlineData("alice/ app")]
    [InlineData("alice/app:")]
    [InlineData("alice/app:.hidden")]
    [InlineData("alice/app\n")]
    public void Invalid_references_are_refused_with_a_message(string text)
    {
        Assert.False(ImageReference.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Bearer_challenges_keep_quoted_commas_and_spaces()
    {
        var challenge = AuthChallenge.Parse("Bearer realm=\"http://h:1/auth/token\",service=\"wharf\",scope=\"repository:a/b:pull,push repository:c:pull\"");
        Assert.NotNull(challenge);
        Assert.True(challenge.IsBearer);
        Assert.Equal("http://h:1/auth/token", challenge.Realm);
        Assert.Equal("wharf", challenge.Service);
        Assert.Equal("repository:a/b:pull,push repository:c:pull", challenge.Scope);
        Assert.True(AuthChallenge.Parse("Basic realm=\"Registry Realm\"")!.IsBasic);
    }

    [Fact]
    public void A_platform_without_variant_matches_any_variant_and_one_with_a_variant_only_its_own()
    {
        Assert.True(Platform.TryParse("linux/arm64", out var any));
        Assert.True(any!.Matches(new Platform("linux", "arm64", "v8")));
        Assert.True(Platform.TryParse("linux/arm/v7", out var v7));
        Assert.False(v7!.Matches(new Platform("linux", "arm", "v6")));
        Assert.False(Platform.TryParse("linux", out _));
        Assert.False(Platform.TryParse("linux/arm/v7/x", out _));
    }

    [Theory]
    [InlineData("127.0.0.1:5000", "http://127.0.0.1:5000/", "127.0.0.1:5000")]
    [InlineData("localhost:5000", "http://localhost:5000/", "localhost:5000")]
    [InlineData("hub.example.test", "https://hub.example.test/", "hub.example.test")]
    [InlineData("http://hub.example.test:8080/", "http://hub.example.test:8080/", "hub.example.test:8080")]
    public void Server_addresses_get_a_scheme_and_a_docker_config_key(string text, string url, string key)
    {
        var server = ServerAddress.Normalize(text);
        Assert.Equal(url, server.ToString());
        Assert.Equal(key, ServerAddress.HostKey(server));
    }

    [Fact]
    public void Credentials_round_trip_through_dockers_auth_field()
    {
        var credential = new RegistryCredential("alice", "pa:ss");
        Assert.Equal(credential, RegistryCredential.FromBasicValue(credential.BasicValue));
        Assert.Null(RegistryCredential.FromBasicValue("not base64!"));
    }
}
