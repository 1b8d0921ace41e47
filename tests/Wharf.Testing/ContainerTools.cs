namespace Wharf.Testing;

/// <summary>skopeo against plain-HTTP registries on loopback (TLS verification off, no signature policy needed).</summary>
public static class Skopeo
{
    /// <summary>
    /// <c>skopeo copy SOURCE DESTINATION</c>; a docker:// side on <paramref name="registry"/> gets its credentials.
    /// Extra arguments (e.g. "--override-arch", "arm64", "--digestfile", path) go before the references.
    /// </summary>
    public static Task<ToolResult> CopyAsync(string source, string destination, IRegistryEndpoint? registry, CancellationToken ct, params string[] extra)
    {
        List<string> args = ["--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false"];
        if (registry?.Credentials is { } creds)
        {
            if (source.StartsWith("docker://", StringComparison.Ordinal))
            {
                args.AddRange(["--src-creds", creds.AsCredsArgument]);
            }

            if (destination.StartsWith("docker://", StringComparison.Ordinal))
            {
                args.AddRange(["--dest-creds", creds.AsCredsArgument]);
            }
        }

        args.AddRange(extra);
        args.AddRange([source, destination]);
        return ExternalTool.RunCheckedAsync("skopeo", args, cancellationToken: ct);
    }

    /// <summary>The digest skopeo wrote with --digestfile.</summary>
    public static async Task<string> ReadDigestFileAsync(string path, CancellationToken ct)
        => (await File.ReadAllTextAsync(path, ct)).Trim();
}

/// <summary>
/// buildah with its own storage (vfs driver, root and runroot in a test's temp folder), so tests neither
/// share nor touch /var/lib/containers.
/// </summary>
public sealed class Buildah(string root, string runRoot)
{
    private static readonly string[][] IsolationChoices =
    [
        ["--isolation", "oci", "--runtime", "runc", "--cgroup-manager", "cgroupfs"],
        ["--isolation", "chroot"],
    ];

    private static string[]? s_workingIsolation;

    public string Root { get; } = root;

    public string RunRoot { get; } = runRoot;

    /// <summary>Storage under DIR/broot and DIR/brun.</summary>
    public static Buildah In(TempDirectory directory) => new(directory.CreateSubdirectory("broot"), directory.CreateSubdirectory("brun"));

    /// <summary>The --isolation arguments the last successful <see cref="BudAsync"/> used, or null before one ran.</summary>
    public static IReadOnlyList<string>? WorkingIsolation => s_workingIsolation;

    /// <summary>Runs buildah with this storage; throws unless it exits with 0.</summary>
    public Task<ToolResult> RunAsync(IEnumerable<string> arguments, CancellationToken ct, TimeSpan? timeout = null)
        => ExternalTool.RunCheckedAsync("buildah", [.. GlobalArguments(), .. arguments], new ToolRunOptions { Timeout = timeout }, ct);

    /// <summary>Runs buildah with this storage; returns whatever the exit code.</summary>
    public Task<ToolResult> TryRunAsync(IEnumerable<string> arguments, CancellationToken ct, TimeSpan? timeout = null)
        => ExternalTool.RunAsync("buildah", [.. GlobalArguments(), .. arguments], new ToolRunOptions { Timeout = timeout }, ct);

    /// <summary>
    /// <c>buildah bud</c> with the best isolation this host allows: OCI (runc, cgroupfs) first, chroot as the
    /// fallback. Returns the result and the isolation arguments that worked.
    /// </summary>
    public async Task<(ToolResult Result, IReadOnlyList<string> Isolation)> BudAsync(IEnumerable<string> arguments, CancellationToken ct)
    {
        var args = arguments.ToList();
        var choices = s_workingIsolation is { } known ? [known, .. IsolationChoices.Where(c => c != known)] : IsolationChoices;
        var failures = new List<string>();
        foreach (var isolation in choices)
        {
            var result = await TryRunAsync(["bud", .. isolation, .. args], ct);
            if (result.Succeeded)
            {
                s_workingIsolation = isolation;
                return (result, isolation);
            }

            failures.Add(result.Describe());
        }

        throw new ExternalToolException("buildah bud failed with every isolation:" + Environment.NewLine + string.Join(Environment.NewLine, failures));
    }

    private string[] GlobalArguments() => ["--storage-driver", "vfs", "--root", Root, "--runroot", RunRoot];
}
