using Wharf.Server;

namespace Wharf.Builds.Tests;

public sealed class BuildConfigurationTests
{
    [Theory]
    [InlineData("--Wharf:Builds:Engine=Kaniko", "Buildah, Docker")]
    [InlineData("--Wharf:Builds:Isolation=rootless", "Auto, Oci, Chroot")]
    [InlineData("--Wharf:Builds:Workers=-1", "Workers")]
    [InlineData("--Wharf:Builds:DockerHost=tcp://127.0.0.1:1", "unix://")]
    public async Task An_invalid_builds_setting_stops_start_up_with_a_message_naming_the_allowed_values(string setting, string expected)
    {
        await using var data = Wharf.Testing.TempDirectory.Create("cfg");
        var error = Assert.Throws<WharfConfigurationException>(() => WharfServer.Build(["--urls", "http://127.0.0.1:0", "--data-dir", data.Path, setting]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
