using System.Text;
using Wharf.Core.Digests;

namespace Wharf.Core.Tests.Digests;

public sealed class DigestTests
{
    private const string EmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string EmptySha512 =
        "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    [Fact]
    public void ParsesSha256WithLowerCaseHex()
    {
        Assert.True(Digest.TryParse(EmptySha256, out var digest));
        Assert.Equal("sha256", digest.Algorithm);
        Assert.Equal(EmptySha256[7..], digest.Hex);
        Assert.Equal(EmptySha256, digest.ToString());
    }

    [Fact]
    public void ParsesSha512WithLowerCaseHex()
    {
        var digest = Digest.Parse(EmptySha512);
        Assert.Equal("sha512", digest.Algorithm);
        Assert.Equal(128, digest.Hex.Length);
        Assert.Equal(EmptySha512, digest.ToString());
    }

    [Theory]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")] // upper-case hex
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")] // 63 hex
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")] // 65 hex
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // sha512 with sha256 length
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // not hex
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")] // unknown algorithm
    [InlineData("SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // upper-case algorithm
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // no algorithm
    [InlineData(":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")] // empty algorithm
    [InlineData("sha256:")]
    [InlineData("sha256")]
    [InlineData(" sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n")]
    [InlineData("")]
    [InlineData(null)]
    public void RejectsMalformedDigests(string? text)
    {
        Assert.False(Digest.TryParse(text, out var digest));
        Assert.Equal(default, digest);
    }

    [Fact]
    public void ParseThrowsFormatExceptionOnInvalidText()
    {
        Assert.Throws<FormatException>(() => Digest.Parse("sha256:abc"));
    }

    [Fact]
    public void ComputeHashesWithSha256ByDefault()
    {
        Assert.Equal(EmptySha256, Digest.Compute([]).ToString());
        Assert.Equal("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            Digest.Compute(Encoding.ASCII.GetBytes("hello")).ToString());
    }

    [Fact]
    public void ComputeHashesWithSha512WhenAsked()
    {
        var digest = Digest.Compute([], Digest.Sha512);
        Assert.Equal(EmptySha512, digest.ToString());
        Assert.Equal(System.Security.Cryptography.HashAlgorithmName.SHA512, digest.HashAlgorithm);
    }

    [Fact]
    public void ComputedDigestRoundTripsThroughParseAndIsEqual()
    {
        var computed = Digest.Compute(Encoding.UTF8.GetBytes("wharf"));
        Assert.Equal(computed, Digest.Parse(computed.ToString()));
    }

    [Fact]
    public void FromHashRejectsUnknownAlgorithm()
    {
        Assert.Throws<ArgumentException>(() => Digest.FromHash("md5", new byte[16]));
    }

    [Theory]
    [InlineData("sha256:abc", true)]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e", true)]
    [InlineData("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true)]
    [InlineData("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", true)]
    [InlineData("latest", false)]
    [InlineData(":abc", false)]
    [InlineData("sha256:", false)]
    [InlineData("SHA256:abc", false)]
    [InlineData("sha256:a/b", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void LooksLikeDigestTellsDigestShapeFromOtherText(string? text, bool expected)
    {
        Assert.Equal(expected, Digest.LooksLikeDigest(text));
    }
}
