using Wharf.Core.References;

namespace Wharf.Core.Tests.References;

public sealed class RepositoryNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("ubuntu")]
    [InlineData("library/ubuntu")]
    [InlineData("org/team/project/image")]
    [InlineData("my-image")]
    [InlineData("my--image")]
    [InlineData("my.image")]
    [InlineData("my_image")]
    [InlineData("my__image")]
    [InlineData("a0/b1.c2_d3__e4-f5")]
    [InlineData("0/1/2")]
    public void AcceptsNamesOfTheSpecGrammar(string name)
    {
        Assert.True(RepositoryName.IsValid(name));
    }

    [Theory]
    [InlineData("Ubuntu")] // upper case
    [InlineData("library/Ubuntu")]
    [InlineData("a..b")] // double dot
    [InlineData("a/../b")] // traversal segment
    [InlineData("..")]
    [InlineData("a/./b")]
    [InlineData("a___b")] // three underscores
    [InlineData("a._b")] // mixed separators
    [InlineData("-a")] // leading separator
    [InlineData("a-")] // trailing separator
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("_a")]
    [InlineData("/a")] // leading slash
    [InlineData("a/")] // trailing slash
    [InlineData("a//b")] // empty component
    [InlineData("a b")] // space
    [InlineData("a%2Fb")]
    [InlineData("a:b")]
    [InlineData("a\n")] // trailing newline must not slip past the end anchor
    [InlineData("a/b\n")]
    [InlineData("")]
    [InlineData(null)]
    public void RejectsNamesOutsideTheSpecGrammar(string? name)
    {
        Assert.False(RepositoryName.IsValid(name));
    }

    [Fact]
    public void AcceptsNamesUpToTheMaximumLength()
    {
        var name = string.Join('/', Enumerable.Repeat(new string('a', 9), 20)); // 20*9 + 19 = 199
        name += "b";
        Assert.Equal(RepositoryName.MaxLength, name.Length);
        Assert.True(RepositoryName.IsValid(name));
    }

    [Fact]
    public void RejectsOverLongNames()
    {
        Assert.False(RepositoryName.IsValid(new string('a', RepositoryName.MaxLength + 1)));
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("v1.2.3")]
    [InlineData("1.0-rc_1")]
    [InlineData("_private")]
    [InlineData("UPPER")]
    [InlineData("a")]
    [InlineData("0")]
    public void AcceptsTagsOfTheSpecGrammar(string tag)
    {
        Assert.True(RepositoryName.IsValidTag(tag));
    }

    [Fact]
    public void AcceptsTagsOf128Characters()
    {
        Assert.True(RepositoryName.IsValidTag(new string('t', 128)));
    }

    [Theory]
    [InlineData(".hidden")] // leading dot
    [InlineData("-dash")] // leading dash
    [InlineData("a:b")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("tag+1")]
    [InlineData("latest\n")] // trailing newline must not slip past the end anchor
    [InlineData("")]
    [InlineData(null)]
    public void RejectsTagsOutsideTheSpecGrammar(string? tag)
    {
        Assert.False(RepositoryName.IsValidTag(tag));
    }

    [Fact]
    public void RejectsTagsLongerThan128Characters()
    {
        Assert.False(RepositoryName.IsValidTag(new string('t', 129)));
    }
}
