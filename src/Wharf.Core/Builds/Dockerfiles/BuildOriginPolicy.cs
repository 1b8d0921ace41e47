using System.Globalization;
using System.Net;
using System.Text.Json;
using Wharf.Core.Digests;
using Wharf.Core.References;

namespace Wharf.Core.Builds.Dockerfiles;

/// <summary>What a base image's config tells the review: its environment (for variables) and its ONBUILD triggers.</summary>
public sealed record BaseImageInfo(IReadOnlyList<string> Env, IReadOnlyList<string> OnBuild);

/// <summary>An image a build pulls before it starts, fully qualified (<c>host/repository:tag</c> or <c>@digest</c>).</summary>
public sealed record PulledImage(string Reference, string Instruction);

/// <summary>The outcome of reviewing a Dockerfile: a refusal naming the rule, or what to pull and the text to build.</summary>
public sealed record BuildOriginReview(string? Refusal, IReadOnlyList<PulledImage> Images, string Dockerfile)
{
    public bool Allowed => Refusal is null;
}

/// <summary>
/// Where a build may take things from. Every image a Dockerfile names (<c>FROM</c>, <c>COPY --from</c>,
/// <c>RUN --mount=…,from=</c>) must be in Wharf itself or in a registry of <c>Wharf:Builds:AllowedRegistries</c>; every
/// URL it fetches (<c>ADD</c>, and base images' <c>ONBUILD</c> triggers) must start with an entry of
/// <c>Wharf:Builds:AllowedUrls</c>. Loopback, link-local and private addresses are refused unless an entry names
/// that host. Short names resolve to Wharf itself, the way Docker reads them against Docker Hub (<c>busybox</c> is
/// <c>library/busybox:latest</c>). The review runs before any engine starts, and nothing in it touches the network
/// except name resolution for entries that allow any host; a refusal reads the same whether or not anything answers
/// at the address. The reviewed text names every image fully qualified, so the engine builds exactly what was checked.
/// </summary>
public sealed class BuildOriginPolicy
{
    private readonly IReadOnlyList<string> _ownNames;
    private readonly IReadOnlyList<RegistryRule> _registries;
    private readonly IReadOnlyList<UrlRule> _urls;
    private readonly Func<string, IReadOnlyList<IPAddress>> _resolve;

    /// <param name="ownAddress">host:port at which builds reach this Wharf (the canonical name short names resolve to).</param>
    /// <param name="ownAliases">Other names of this Wharf (<c>localhost:PORT</c>, …).</param>
    /// <param name="allowedRegistries">Entries of <c>Wharf:Builds:AllowedRegistries</c>: <c>host[:port][/repository-prefix]</c> or <c>*.domain</c>.</param>
    /// <param name="allowedUrls">Entries of <c>Wharf:Builds:AllowedUrls</c>: URL prefixes such as <c>https://example.com/downloads/</c>.</param>
    /// <param name="resolve">Name resolution, for entries that allow any host (default: the system resolver).</param>
    public BuildOriginPolicy(string ownAddress, IEnumerable<string> ownAliases, IEnumerable<string> allowedRegistries, IEnumerable<string> allowedUrls,
        Func<string, IReadOnlyList<IPAddress>>? resolve = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownAddress);
        _ownNames = [ownAddress.ToLowerInvariant(), .. ownAliases.Select(a => a.ToLowerInvariant())];
        _registries = allowedRegistries.Where(e => !string.IsNullOrWhiteSpace(e)).Select(RegistryRule.Parse).ToList();
        _urls = allowedUrls.Where(e => !string.IsNullOrWhiteSpace(e)).Select(UrlRule.Parse).ToList();
        _resolve = resolve ?? (host =>
        {
            try
            {
                return Dns.GetHostAddresses(host);
            }
            catch (System.Net.Sockets.SocketException)
            {
                return [];
            }
        });
    }

    /// <summary>Whether any URL may be fetched at all (when none may, engines can run with no network).</summary>
    public bool AllowsUrls => _urls.Count > 0;

    /// <summary>The canonical name of this Wharf that reviewed Dockerfiles use.</summary>
    public string OwnAddress => _ownNames[0];

    /// <summary>
    /// Reviews <paramref name="dockerfile"/> built with <paramref name="buildArgs"/>. With <paramref name="baseImages"/>
    /// (after the images were pulled: reference → config) it also reads their environments and checks their ONBUILD
    /// triggers, which run in this build.
    /// </summary>
    public BuildOriginReview Review(string dockerfile, IReadOnlyDictionary<string, string> buildArgs, IReadOnlyDictionary<string, BaseImageInfo>? baseImages = null)
    {
        ArgumentNullException.ThrowIfNull(dockerfile);
        ArgumentNullException.ThrowIfNull(buildArgs);
        var document = DockerfileDocument.Parse(dockerfile);
        var escape = document.Escape;
        var images = new List<PulledImage>();
        var rewrites = new Dictionary<DockerfileInstruction, string>();
        var globalArgs = new Dictionary<string, string>(StringComparer.Ordinal);
        var stageEnvs = new Dictionary<string, Dictionary<string, string>>(StringComparer.OrdinalIgnoreCase);
        var stageCount = 0;
        Dictionary<string, string>? scope = null;
        string Refuse(DockerfileInstruction at, string message) => $"{Describe(at)} (line {(at.FirstLine + 1).ToString(CultureInfo.InvariantCulture)}): {message}";

        foreach (var instruction in document.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "ARG":
                {
                    var assignments = DockerfileVariables.Assignments(instruction.Arguments, false, scope ?? globalArgs, escape, out var unresolved);
                    if (unresolved) return Refused(Refuse(instruction, "uses a variable form Wharf cannot resolve before the build."));
                    foreach (var (name, value) in assignments)
                    {
                        var target = scope ?? globalArgs;
                        if (buildArgs.TryGetValue(name, out var given)) target[name] = given;
                        else if (value is not null) target[name] = value;
                        else if (scope is not null && globalArgs.TryGetValue(name, out var inherited)) target[name] = inherited;
                    }
                    break;
                }
                case "ENV" when scope is not null:
                {
                    var assignments = DockerfileVariables.Assignments(instruction.Arguments, true, scope, escape, out var unresolved);
                    if (unresolved) return Refused(Refuse(instruction, "uses a variable form Wharf cannot resolve before the build."));
                    foreach (var (name, value) in assignments)
                    {
                        if (value is not null) scope[name] = value;
                    }
                    break;
                }
                case "FROM":
                {
                    var words = DockerfileVariables.Words(instruction.Arguments, escape);
                    if (words.Count == 0) return Refused(Refuse(instruction, "names no image."));
                    var text = DockerfileVariables.Process(words[0], globalArgs, escape);
                    if (text is null) return Refused(Refuse(instruction, "uses a variable form Wharf cannot resolve before the build."));
                    var stageName = words.Count >= 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2] : null;
                    scope = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (text.Equals("scratch", StringComparison.OrdinalIgnoreCase))
                    {
                        // Nothing to pull.
                    }
                    else if (stageEnvs.TryGetValue(text, out var parentEnv))
                    {
                        foreach (var (k, v) in parentEnv) scope[k] = v;
                    }
                    else
                    {
                        var resolved = Resolve(text, out var problem);
                        if (resolved is null) return Refused(Refuse(instruction, problem!));
                        images.Add(new PulledImage(resolved, "FROM"));
                        if (resolved != text) rewrites[instruction] = instruction.Render(arguments: string.Join(' ', [resolved, .. words.Skip(1)]));
                        if (baseImages is not null && baseImages.TryGetValue(resolved, out var info))
                        {
                            foreach (var entry in info.Env)
                            {
                                var equals = entry.IndexOf('=', StringComparison.Ordinal);
                                if (equals > 0) scope[entry[..equals]] = entry[(equals + 1)..];
                            }
                            foreach (var trigger in info.OnBuild)
                            {
                                var triggered = DockerfileDocument.Split(trigger, instruction.FirstLine, instruction.LastLine);
                                var refusal = ReviewStep(triggered, scope, stageEnvs, escape, images, null);
                                if (refusal is not null) return Refused(Refuse(instruction, $"the base image {resolved} has an ONBUILD trigger '{Printable(trigger)}': {refusal}"));
                            }
                        }
                    }
                    stageEnvs[stageCount.ToString(CultureInfo.InvariantCulture)] = scope;
                    if (stageName is not null) stageEnvs[stageName] = scope;
                    stageCount++;
                    break;
                }
                default:
                {
                    if (scope is null) break;
                    var refusal = ReviewStep(instruction, scope, stageEnvs, escape, images, rewrites);
                    if (refusal is not null) return Refused(Refuse(instruction, refusal));
                    break;
                }
            }
        }
        var distinct = images.DistinctBy(i => i.Reference, StringComparer.Ordinal).ToList();
        return new BuildOriginReview(null, distinct, rewrites.Count == 0 ? dockerfile : document.Render(rewrites));
    }

    /// <summary>Checks one instruction of a stage (COPY/ADD sources and --from, RUN mounts); null when allowed.</summary>
    private string? ReviewStep(DockerfileInstruction instruction, Dictionary<string, string> scope, Dictionary<string, Dictionary<string, string>> stages,
        char escape, List<PulledImage> images, Dictionary<DockerfileInstruction, string>? rewrites)
    {
        switch (instruction.Keyword)
        {
            case "ADD" or "COPY":
            {
                var flags = instruction.Flags.ToList();
                for (var f = 0; f < flags.Count; f++)
                {
                    if (!flags[f].StartsWith("--from=", StringComparison.OrdinalIgnoreCase)) continue;
                    var from = DockerfileVariables.Process(flags[f]["--from=".Length..], scope, escape);
                    if (from is null) return "uses a variable form Wharf cannot resolve before the build.";
                    if (stages.ContainsKey(from)) continue;
                    var resolved = Resolve(from, out var problem);
                    if (resolved is null) return problem;
                    images.Add(new PulledImage(resolved, instruction.Keyword + " --from"));
                    flags[f] = "--from=" + resolved;
                }
                foreach (var source in Sources(instruction.Arguments, escape))
                {
                    if (source.StartsWith("<<", StringComparison.Ordinal)) continue; // a heredoc, not a path
                    var value = DockerfileVariables.Process(source, scope, escape);
                    if (value is null) return "uses a variable form Wharf cannot resolve before the build.";
                    if (IsUrl(value) && CheckUrl(value) is { } urlProblem) return urlProblem;
                }
                if (rewrites is not null && !flags.SequenceEqual(instruction.Flags)) rewrites[instruction] = instruction.Render(flags);
                return null;
            }
            case "RUN":
            {
                var flags = instruction.Flags.ToList();
                for (var f = 0; f < flags.Count; f++)
                {
                    if (!flags[f].StartsWith("--mount=", StringComparison.OrdinalIgnoreCase)) continue;
                    var options = flags[f]["--mount=".Length..].Split(',');
                    var type = options.Select(o => o.Split('=', 2)).FirstOrDefault(kv => kv[0].Equals("type", StringComparison.OrdinalIgnoreCase)) is { Length: 2 } t ? t[1].ToLowerInvariant() : "bind";
                    for (var o = 0; o < options.Length; o++)
                    {
                        var kv = options[o].Split('=', 2);
                        var key = kv[0].Trim().ToLowerInvariant();
                        var value = kv.Length == 2 ? kv[1] : "";
                        if (key == "from" && type is "bind" or "cache")
                        {
                            var from = DockerfileVariables.Process(value, scope, escape);
                            if (from is null) return "uses a variable form Wharf cannot resolve before the build.";
                            if (stages.ContainsKey(from)) continue;
                            var resolved = Resolve(from, out var problem);
                            if (resolved is null) return problem;
                            images.Add(new PulledImage(resolved, "RUN --mount from"));
                            options[o] = "from=" + resolved;
                        }
                        else if (key == "id" && type == "cache" && !IsSafeCacheId(value))
                        {
                            return $"the cache id '{Printable(value)}' must be a relative name without '..' components.";
                        }
                    }
                    flags[f] = "--mount=" + string.Join(',', options);
                }
                if (rewrites is not null && !flags.SequenceEqual(instruction.Flags)) rewrites[instruction] = instruction.Render(flags);
                return null;
            }
            case "ONBUILD":
                // Runs in builds FROM this image, which are reviewed then.
                return null;
            default:
                return null;
        }
    }

    /// <summary>Resolves an image name to the reference to pull, or null with a message naming the rule it breaks.</summary>
    public string? Resolve(string text, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        problem = null;
        var name = text.Trim();
        string? digest = null;
        var at = name.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = name[(at + 1)..];
            name = name[..at];
            if (!Digest.TryParse(digest, out _))
            {
                problem = $"'{Printable(text)}' does not end in a valid digest.";
                return null;
            }
        }
        string? registry = null;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = name[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                registry = first.ToLowerInvariant();
                name = name[(slash + 1)..];
            }
        }
        string? tag = null;
        var colon = name.LastIndexOf(':');
        if (colon >= 0)
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
        }
        if (!RepositoryName.IsValid(name) || (tag is not null && !RepositoryName.IsValidTag(tag)))
        {
            problem = $"'{Printable(text)}' is not a valid image reference.";
            return null;
        }
        if (registry is null || _ownNames.Contains(registry, StringComparer.Ordinal))
        {
            // A short name is Docker Hub's, read against Wharf: busybox → library/busybox.
            if (registry is null && !name.Contains('/', StringComparison.Ordinal)) name = "library/" + name;
            registry = OwnAddress;
        }
        else if (!_registries.Any(r => r.Matches(registry, name, this)))
        {
            problem = $"the image {Printable(text)} is in the registry {registry}, which is neither this Wharf ({OwnAddress}) nor listed in Wharf:Builds:AllowedRegistries"
                + (_registries.Count == 0 ? " (none are listed)." : ".");
            return null;
        }
        return digest is not null ? $"{registry}/{name}@{digest}" : $"{registry}/{name}:{tag ?? "latest"}";
    }

    /// <summary>Null when a build may fetch <paramref name="url"/>, else the refusal (the same whatever listens there).</summary>
    public string? CheckUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var text = url.Trim();
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            // git@host:repo, git://…, ftp://…: only a literal prefix listed by the operator lets them through.
            return _urls.Any(r => r.MatchesLiteral(text)) ? null
                : $"{Printable(text)} is not a URL this build may fetch: fetched files must start with an entry of Wharf:Builds:AllowedUrls{(_urls.Count == 0 ? " (none are listed)" : "")}.";
        }
        foreach (var rule in _urls)
        {
            if (!rule.Matches(uri)) continue;
            if (rule.NamesHost(uri) || !IsInternal(uri.IdnHost)) return null;
            return $"{Printable(text)} is on a loopback, link-local or private address, which builds reach only when an entry of Wharf:Builds:AllowedUrls names that host.";
        }
        return $"{Printable(text)} is not a URL this build may fetch: fetched files must start with an entry of Wharf:Builds:AllowedUrls{(_urls.Count == 0 ? " (none are listed)" : "")}; "
            + "loopback, link-local and private addresses are never reachable unless listed.";
    }

    /// <summary>Whether a host is loopback, link-local, private or unspecified, itself or by what it resolves to.</summary>
    internal bool IsInternal(string host)
    {
        var name = host.Trim('[', ']');
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (IPAddress.TryParse(name, out var literal)) return IsInternal(literal);
        var addresses = _resolve(name);
        return addresses.Count == 0 || addresses.Any(IsInternal);
    }

    /// <summary>Loopback, link-local, private (RFC 1918, unique local), carrier-grade NAT, unspecified or multicast.</summary>
    public static bool IsInternal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)) return true;
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] >= 224;
        }
        return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast;
    }

    private static bool IsUrl(string source) =>
        source.StartsWith("git@", StringComparison.OrdinalIgnoreCase) || (source.IndexOf("://", StringComparison.Ordinal) is var i and > 0
            && source[..i].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '.' or '-'));

    /// <summary>The source words of ADD/COPY (the last word is the destination), in shell or JSON form.</summary>
    private static IReadOnlyList<string> Sources(string arguments, char escape)
    {
        var text = arguments.Trim();
        if (text.StartsWith('['))
        {
            try
            {
                var array = JsonSerializer.Deserialize(text, DockerfileJson.Default.StringArray);
                if (array is { Length: > 1 }) return array[..^1].Select(s => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'").ToList();
            }
            catch (JsonException)
            {
                // Not JSON after all: read it as words, as Docker does.
            }
        }
        var words = DockerfileVariables.Words(text, escape);
        return words.Count > 1 ? words.Take(words.Count - 1).ToList() : [];
    }

    private static bool IsSafeCacheId(string id)
    {
        if (id.Length is 0 or > 255 || id.Contains('\0', StringComparison.Ordinal)) return false;
        return id.Split('/').All(part => part is not "..");
    }

    private static string Describe(DockerfileInstruction instruction) => instruction.Keyword;

    private static string Printable(string text) => text.Length > 200 ? text[..200] + "…" : text;

    private static BuildOriginReview Refused(string message) => new(message, [], "");

    /// <summary>An AllowedRegistries entry: a host (with port) or <c>*.domain</c>, optionally with a repository prefix.</summary>
    private sealed record RegistryRule(string Host, string? RepositoryPrefix, bool Wildcard)
    {
        public static RegistryRule Parse(string entry)
        {
            var text = entry.Trim().ToLowerInvariant();
            if (text.Contains("://", StringComparison.Ordinal)) text = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
            var slash = text.IndexOf('/', StringComparison.Ordinal);
            var host = slash < 0 ? text : text[..slash];
            var prefix = slash < 0 ? null : text[(slash + 1)..].Trim('/');
            var wildcard = host.StartsWith("*.", StringComparison.Ordinal);
            return new RegistryRule(wildcard ? host[1..] : host, prefix is { Length: > 0 } ? prefix : null, wildcard);
        }

        public bool Matches(string registry, string repository, BuildOriginPolicy policy)
        {
            if (RepositoryPrefix is { } prefix && repository != prefix && !repository.StartsWith(prefix + "/", StringComparison.Ordinal)) return false;
            if (!Wildcard) return registry == Host;
            // *.example.com: any host in the domain, but not an internal one (the entry does not name it).
            var hostOnly = registry.StartsWith('[') ? registry[..(registry.IndexOf(']', StringComparison.Ordinal) + 1)]
                : registry.LastIndexOf(':') is var c and > 0 ? registry[..c] : registry;
            return hostOnly.EndsWith(Host, StringComparison.Ordinal) && !policy.IsInternal(hostOnly);
        }
    }

    /// <summary>An AllowedUrls entry: a URL prefix; a bare scheme (<c>https://</c>) allows any host of it.</summary>
    private sealed record UrlRule(string Prefix, Uri? Parsed)
    {
        public static UrlRule Parse(string entry)
        {
            var text = entry.Trim();
            return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0
                ? new UrlRule(uri.AbsoluteUri, uri)
                : new UrlRule(text.ToLowerInvariant() is "http://" or "https://" ? text.ToLowerInvariant() : text, null);
        }

        public bool Matches(Uri uri) => Parsed is not null
            ? uri.AbsoluteUri.StartsWith(Prefix, StringComparison.Ordinal)
            : Prefix is "http://" or "https://" && uri.Scheme + "://" == Prefix;

        /// <summary>The entry names the URL's host itself (so an internal address was listed on purpose).</summary>
        public bool NamesHost(Uri uri) => Parsed is not null && string.Equals(Parsed.IdnHost, uri.IdnHost, StringComparison.OrdinalIgnoreCase);

        public bool MatchesLiteral(string text) => Parsed is null && Prefix is not ("http://" or "https://") && text.StartsWith(Prefix, StringComparison.Ordinal);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class DockerfileJson : System.Text.Json.Serialization.JsonSerializerContext;
