using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Cli.Client;
using Wharf.Client;
using Wharf.Client.Policies;

namespace Wharf.Cli.Commands;

/// <summary>
/// <c>wharf retention set|show</c> (a repository's retention rules), <c>wharf quota set|show</c> (a namespace's storage
/// quota) and <c>wharf usage</c> (a namespace's quota and usage), over the REST API.
/// </summary>
public static class PolicyCommands
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var retention = new Command("retention", "A repository's retention rules: which tags garbage collection keeps.");
        retention.Subcommands.Add(SetRetention());
        retention.Subcommands.Add(ShowRetention());
        root.Subcommands.Add(retention);
        var quota = new Command("quota", "A namespace's storage quota: pushes that would pass it are refused.");
        quota.Subcommands.Add(SetQuota());
        quota.Subcommands.Add(Usage("show", "Show a namespace's quota and usage."));
        root.Subcommands.Add(quota);
        root.Subcommands.Add(Usage("usage", "Show a namespace's storage: the bytes of the distinct blobs its images use, and its quota."));
    }

    private static async Task<PoliciesClient> ClientAsync(CliContext context, string? registry = null)
    {
        var server = await context.ServerAsync(registry);
        return new PoliciesClient(server, await context.CredentialAsync(server));
    }

    private static Command SetRetention()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/name of the repository." };
        var keepLast = new Option<int?>("--keep-last") { Description = "Keep the N most recently pushed tags." };
        var keepPulled = new Option<int?>("--keep-pulled-within-days") { Description = "Keep tags pulled within this many days." };
        var keepMatching = new Option<string?>("--keep-tags-matching") { Description = "Keep tags whose whole name matches this regular expression." };
        var none = new Option<bool>("--none") { Description = "Remove the rules: keep every tag." };
        var command = new Command("set", "Set a repository's retention rules (they replace the old ones). A tag that no rule keeps is deleted by the next garbage collection; immutable tags never are.")
        {
            name, keepLast, keepPulled, keepMatching, none,
        };
        CliContext.SetAction(command, async context =>
        {
            var (registry, repository) = Repository(context.Parse.GetValue(name));
            var last = context.Parse.GetValue(keepLast);
            var days = context.Parse.GetValue(keepPulled);
            var pattern = context.Parse.GetValue(keepMatching);
            var clear = context.Parse.GetValue(none);
            if (clear && (last is not null || days is not null || pattern is not null))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, "Give --none alone, or rules without it.");
            }
            if (!clear && last is null && days is null && pattern is null)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, "Give --keep-last, --keep-pulled-within-days or --keep-tags-matching (or --none to remove the rules).");
            }
            using var client = await ClientAsync(context, registry);
            var set = await client.SetRetentionAsync(repository, last, days, pattern, context.CancellationToken);
            if (context.Json) context.WriteJson(set);
            else context.Say($"Retention of {repository}: {Describe(set)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command ShowRetention()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/name of the repository." };
        var command = new Command("show", "Show a repository's retention rules.") { name };
        CliContext.SetAction(command, async context =>
        {
            var (registry, repository) = Repository(context.Parse.GetValue(name));
            using var client = await ClientAsync(context, registry);
            var rules = await client.GetRetentionAsync(repository, context.CancellationToken);
            if (context.Json) context.WriteJson(rules);
            else context.Say($"Retention of {repository}: {Describe(rules)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command SetQuota()
    {
        var ns = new Argument<string>("NAMESPACE") { Description = "A user's or organization's namespace." };
        var size = new Argument<string>("SIZE") { Description = "Bytes, or with a unit: 500MiB, 10GiB, 2T (binary), 10GB (decimal); 'none' removes the quota." };
        var command = new Command("set", "Set a namespace's storage quota (administrators).") { ns, size };
        CliContext.SetAction(command, async context =>
        {
            var space = Namespace(context.Parse.GetValue(ns));
            var bytes = ParseSize(context.Parse.GetValue(size)!);
            using var client = await ClientAsync(context);
            var usage = await client.SetQuotaAsync(space, bytes, context.CancellationToken);
            if (context.Json) context.WriteJson(usage);
            else context.Say(UsageLine(usage));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Usage(string verb, string description)
    {
        var ns = new Argument<string>("NAMESPACE") { Description = "A user's or organization's namespace." };
        var command = new Command(verb, description) { ns };
        CliContext.SetAction(command, async context =>
        {
            using var client = await ClientAsync(context);
            var usage = await client.GetUsageAsync(Namespace(context.Parse.GetValue(ns)), context.CancellationToken);
            if (context.Json) context.WriteJson(usage);
            else context.Say(UsageLine(usage));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string UsageLine(JsonNode usage)
    {
        var used = usage["used_bytes"]!.GetValue<long>();
        var quota = usage["quota_bytes"]?.GetValue<long>();
        var share = quota is > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({100.0 * used / quota.Value:0.#}%)") : "";
        return $"{usage["namespace"]}: {CliContext.Size(used)} used{share} by {usage["blobs"]} blobs in {usage["repositories"]} repositories; " +
            (quota is { } q ? $"quota {CliContext.Size(q)} ({q} bytes)." : "no quota.");
    }

    private static string Describe(JsonNode rules)
    {
        var parts = new List<string>();
        if (rules["keep_last"] is { } last) parts.Add($"keep the last {last} tags pushed");
        if (rules["keep_pulled_within_days"] is { } days) parts.Add($"keep tags pulled within {days} days");
        if (rules["keep_tags_matching"] is { } pattern) parts.Add($"keep tags matching '{pattern}'");
        return parts.Count == 0 ? "none (every tag is kept)" : string.Join("; ", parts);
    }

    private static (string? Registry, string Repository) Repository(string? text)
    {
        var (registry, ns, name) = RepositoryApiCommands.ParseRepositoryName(text);
        return (registry, ns.Length == 0 ? name : $"{ns}/{name}");
    }

    private static string Namespace(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Contains('/', StringComparison.Ordinal) || text != text.ToLowerInvariant() || text.Any(char.IsWhiteSpace))
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{text}' is not a namespace: one lower-case name, such as alice or team.");
        }
        return text;
    }

    /// <summary>Bytes from <c>123</c>, <c>500MiB</c>, <c>10G</c> (binary), <c>10GB</c> (decimal); null for <c>none</c>.</summary>
    internal static long? ParseSize(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var digits = trimmed.TakeWhile(c => char.IsAsciiDigit(c) || c == '.').Count();
        var unit = trimmed[digits..].Trim().ToUpperInvariant();
        double factor = unit switch
        {
            "" or "B" => 1,
            "K" or "KIB" => 1L << 10,
            "M" or "MIB" => 1L << 20,
            "G" or "GIB" => 1L << 30,
            "T" or "TIB" => 1L << 40,
            "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            _ => 0,
        };
        if (factor == 0 || digits == 0 || !double.TryParse(trimmed[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
            || number * factor > long.MaxValue)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{text}' is not a size: give bytes, or a number with B, KiB, MiB, GiB, TiB (K, M, G, T), KB, MB, GB or TB; or 'none'.");
        }
        return (long)Math.Round(number * factor);
    }
}
