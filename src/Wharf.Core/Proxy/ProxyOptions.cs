using Wharf.Core.Accounts;

namespace Wharf.Core.Proxy;

/// <summary>
/// The pull-through cache (section <c>Wharf:Proxy</c>): namespaces that copy an upstream registry
/// (<c>Namespaces:&lt;ns&gt;</c>), and a mirror for Docker's <c>registry-mirrors</c> setting (<c>Mirror</c>).
/// Nothing is proxied by default.
/// </summary>
public sealed class ProxyOptions
{
    public const string Section = "Proxy";

    /// <summary>Proxy namespaces by name: a pull of <c>&lt;ns&gt;/&lt;path&gt;</c> is served from the upstream's <c>&lt;path&gt;</c>.</summary>
    public Dictionary<string, ProxyUpstreamOptions> Namespaces { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Mirror mode: any name Wharf does not hold itself is fetched from this upstream under the same name. Default none.</summary>
    public ProxyUpstreamOptions? Mirror { get; set; }

    /// <summary>How long an upstream may take to answer, and to send each next piece of a body, before the pull fails. Default 30 seconds.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Folder for blobs while they stream in from an upstream, when the blob store cannot be read while it writes (S3);
    /// local to the node, emptied on start. Default <c>&lt;data-dir&gt;/proxy-spool</c>.
    /// </summary>
    public string? SpoolPath { get; set; }

    public bool Enabled => Namespaces.Count > 0 || Mirror?.Upstream is { Length: > 0 };

    public IEnumerable<string> Validate()
    {
        foreach (var (name, upstream) in Namespaces)
        {
            if (AccountName.Problem(name) is { } problem) yield return $"Wharf:Proxy:Namespaces:{name}: {problem}";
            foreach (var issue in upstream.Validate($"Wharf:Proxy:Namespaces:{name}")) yield return issue;
        }
        if (Mirror is not null)
        {
            foreach (var problem in Mirror.Validate("Wharf:Proxy:Mirror")) yield return problem;
        }
        if (UpstreamTimeout <= TimeSpan.Zero) yield return "Wharf:Proxy:UpstreamTimeout must be positive.";
    }
}

/// <summary>One upstream registry of the pull-through cache.</summary>
public sealed class ProxyUpstreamOptions
{
    /// <summary>The upstream registry's base URL, e.g. <c>https://registry.example</c> (required).</summary>
    public string? Upstream { get; set; }

    /// <summary>User name for the upstream (Basic, or the token flow's credentials). Default none: anonymous.</summary>
    public string? Username { get; set; }

    /// <summary>Password or access token for <see cref="Username"/>.</summary>
    public string? Password { get; set; }


    /// <summary>How long a cached tag is served before it is re-checked upstream with a HEAD. Default 5 minutes.</summary>
    public TimeSpan TagTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Who may pull the cached repositories (a proxy namespace's; the mirror's follow <c>Wharf:Auth</c>). Default public.</summary>
    public RepositoryVisibility Visibility { get; set; } = RepositoryVisibility.Public;

    public Uri BaseUri => new(Upstream!.TrimEnd('/') + "/");

    public IEnumerable<string> Validate(string key)
    {
        if (string.IsNullOrWhiteSpace(Upstream))
        {
            yield return $"{key}:Upstream is required: the upstream registry's URL (http:// or https://).";
        }
        else if (!Uri.TryCreate(Upstream, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(uri.Query))
        {
            yield return $"{key}:Upstream '{Upstream}' is not an http:// or https:// URL.";
        }
        if (TagTtl < TimeSpan.Zero) yield return $"{key}:TagTtl must not be negative.";
        if (string.IsNullOrEmpty(Username) != string.IsNullOrEmpty(Password)) yield return $"{key}: Username and Password go together.";
        if (!Enum.IsDefined(Visibility)) yield return $"{key}:Visibility '{Visibility}' is not known; allowed values: {string.Join(", ", Enum.GetNames<RepositoryVisibility>())}.";
    }
}
