using Wharf.Builds.Worker;
using Wharf.Core;
using Wharf.Core.Accounts;
using Wharf.Core.Builds;

namespace Wharf.Server.Configuration;

/// <summary>
/// What <c>wharf serve</c> prints once it listens: the addresses, each provider's own line (<see cref="ProviderDescription"/>),
/// the migrations applied, the accounts mode, the build workers and whether <c>DOCKERHUB_*</c> pushing is active.
/// </summary>
public static class StartupBanner
{
    public static IReadOnlyList<string> Lines(IServiceProvider services, IReadOnlyCollection<string> addresses, int migrationsApplied)
    {
        var rows = new List<(string Label, string Text)>();
        foreach (var provider in services.GetServices<ProviderDescription>()) rows.Add((provider.Area, provider.Text));
        rows.Add(("migrations", migrationsApplied == 0 ? "none pending" : $"{migrationsApplied} applied at this start"));
        if (services.GetService<AuthOptions>() is { } auth) rows.Add(("accounts", Accounts(auth)));
        if (services.GetService<BuildOptions>() is { } builds)
        {
            rows.Add(("builds", builds.Workers == 0 ? "no workers in this process (wharf worker runs them)" : $"{builds.Workers} worker{(builds.Workers == 1 ? "" : "s")}, engine {builds.Engine}"));
        }
        if (services.GetService<DockerHubSettings>() is { } hub) rows.Add(("build-push", BuildPush(hub)));
        if (services.GetService<Core.Proxy.ProxyOptions>() is { } proxy) rows.Add(("proxy", Proxy(proxy)));
        var width = rows.Max(r => r.Label.Length) + 2;
        var lines = new List<string> { $"Wharf is serving on {string.Join(", ", addresses)}" };
        lines.AddRange(rows.Select(r => $"  {r.Label.PadRight(width)}{r.Text}"));
        lines.Add("Press Ctrl+C to stop.");
        return lines;
    }

    private static string Accounts(AuthOptions auth) => auth.Mode == AuthMode.Open
        ? "Open mode: no accounts, anyone may push and pull"
        : $"accounts mode; sign-up {auth.SignUp.ToString().ToLowerInvariant()}, anonymous pull of public repositories {(auth.AnonymousPull ? "on" : "off")}, new repositories {auth.DefaultVisibility.ToString().ToLowerInvariant()}";

    private static string Proxy(Core.Proxy.ProxyOptions proxy)
    {
        var parts = proxy.Namespaces.OrderBy(n => n.Key, StringComparer.Ordinal).Select(n => $"{n.Key}/ caches {n.Value.BaseUri.ToString().TrimEnd('/')}").ToList();
        if (proxy.Mirror?.Upstream is { Length: > 0 }) parts.Add($"mirror of {proxy.Mirror.BaseUri.ToString().TrimEnd('/')} for names Wharf does not hold");
        return string.Join("; ", parts);
    }

    private static string BuildPush(DockerHubSettings hub)
    {
        if (hub.IsConfigured) return $"pushes to Docker Hub as {hub.Username}, namespace {hub.Namespace} (DOCKERHUB_* set)";
        var set = new[] { ("DOCKERHUB_USERNAME", hub.Username), ("DOCKERHUB_PASSWORD", hub.Password) };
        var missing = set.Where(s => s.Item2 is null).Select(s => s.Item1).ToList();
        return missing.Count == set.Length
            ? "pushes into this Wharf, under the caller's namespace (DOCKERHUB_* not set)"
            : $"pushes into this Wharf: {string.Join(" and ", missing)} {(missing.Count == 1 ? "is" : "are")} not set, so DOCKERHUB_* pushing is off";
    }
}
