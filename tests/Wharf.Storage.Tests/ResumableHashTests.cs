using System.Security.Cryptography;
using Wharf.Core.Digests;
using Wharf.Storage.S3;
using static Wharf.Storage.Tests.TestData;

namespace Wharf.Storage.Tests;

public sealed class ResumableHashTests
{
    [Theory]
    [InlineData(Digest.Sha256)]
    [InlineData(Digest.Sha512)]
    public void A_hash_saved_and_resumed_at_any_point_gives_the_digest_of_the_whole(string algorithm)
    {
        var content = Bytes(300_001, seed: 4);
        var expected = Digest.FromHash(algorithm, algorithm == Digest.Sha512 ? SHA512.HashData(content) : SHA256.HashData(content));
        foreach (var cut in new[] { 0, 1, 63, 64, 127, 128, 129, 4096, 150_000, 300_000, 300_001 })
        {
            var first = ResumableHash.Create(algorithm);
            first.Append(content.AsSpan(0, cut));
            var saved = first.Export();

            var resumed = ResumableHash.Import(algorithm, saved, cut);
            resumed.Append(content.AsSpan(cut));

            Assert.Equal(expected, resumed.Current());
            Assert.Equal(content.Length, resumed.Length);
            // Current does not end the hash: more can follow.
            resumed.Append([1]);
            Assert.NotEqual(expected, resumed.Current());
        }
    }

    [Fact]
    public void A_state_is_refused_for_another_algorithm_length_or_format()
    {
        var hash = ResumableHash.Create(Digest.Sha256);
        hash.Append(Bytes(1000));
        var saved = hash.Export();

        Assert.Throws<InvalidDataException>(() => ResumableHash.Import(Digest.Sha512, saved, 1000));
        Assert.Throws<InvalidDataException>(() => ResumableHash.Import(Digest.Sha256, saved, 999));
        Assert.Throws<InvalidDataException>(() => ResumableHash.Import(Digest.Sha256, saved[..^1], 1000));
        var otherVersion = (byte[])saved.Clone();
        otherVersion[0] = 9;
        Assert.Throws<InvalidDataException>(() => ResumableHash.Import(Digest.Sha256, otherVersion, 1000));
        Assert.Equal(Digest.Compute(Bytes(1000)), ResumableHash.Import(Digest.Sha256, saved, 1000).Current());
    }
}
