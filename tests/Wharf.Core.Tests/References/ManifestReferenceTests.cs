using Wharf.Core.Digests;
using Wharf.Core.References;

namespace Wharf.Core.Tests.References;

public sealed class ManifestReferenceTests
{
    private const string Sha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void ParsesTag()
    {
        Assert.True(ManifestReference.TryParse("v1.0", out var reference));
        Assert.False(reference.IsDigest);
        Assert.Equal("v1.0", reference.Tag);
        Assert.Null(reference.Digest);
        Assert.Equal("v1.0", reference.ToString());
    }

    [Fact]
    public void ParsesDigest()
    {
        Assert.True(ManifestReference.TryParse(Sha256, out var reference));
        Assert.True(reference.IsDigest);
        Assert.Null(reference.Tag);
        Assert.Equal(Digest.Parse(Sha256), reference.Digest);
        Assert.Equal(Sha256, reference.ToString());
    }

    [Theory]
    [InlineData("sha256:abc")] // digest-shaped but invalid
    [InlineData("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("name:tag")]
    [InlineData(".tag")]
    [InlineData("-tag")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData(null)]
    public void RejectsTextThatIsNeitherTagNorDigest(string? text)
    {
        Assert.False(ManifestReference.TryParse(text, out _));
    }

    [Fact]
    public void RejectsOverLongTag()
    {
        Assert.False(ManifestReference.TryParse(new string('t', 129), out _));
        Assert.True(ManifestReference.TryParse(new string('t', 128), out _));
    }
}
