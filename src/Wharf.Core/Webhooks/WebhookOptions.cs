namespace Wharf.Core.Webhooks;

/// <summary>Section <c>Wharf:Webhooks</c>.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Wharf:Webhooks";

    /// <summary>
    /// Hosts (<c>host</c> or <c>host:port</c>) and address ranges (CIDR, or one address) that webhooks may call although
    /// they are loopback, private, link-local or otherwise not public. Default empty: only public addresses.
    /// </summary>
    public List<string> AllowedTargets { get; set; } = [];

    /// <summary>Attempts per delivery before it is given up. Default 8.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Wait before the second attempt; it doubles after each failure. Default 10 seconds.</summary>
    public TimeSpan InitialRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between attempts. Default 1 hour.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a receiver may take to answer. Default 10 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the dispatcher looks for due deliveries when nothing wakes it (other nodes' changes). Default 5 seconds.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Deliveries sent at once by one node. Default 8.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>Global endpoints: every event of every repository, by name (<c>Wharf:Webhooks:Endpoints:&lt;name&gt;:Url</c> …).</summary>
    public Dictionary<string, WebhookEndpointOptions> Endpoints { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Send deliveries from this process. Default true; false leaves them to other nodes.</summary>
    public bool Dispatch { get; set; } = true;

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1, after <paramref name="attempt"/> failures.</summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var factor = Math.Pow(2, Math.Clamp(attempt - 1, 0, 30));
        var delay = TimeSpan.FromTicks((long)Math.Min(InitialRetryDelay.Ticks * factor, MaxRetryDelay.Ticks));
        return delay;
    }

    public IEnumerable<string> Validate()
    {
        foreach (var entry in AllowedTargets)
        {
            if (!WebhookTargets.TryParseAllowance(entry, out _)) yield return $"Wharf:Webhooks:AllowedTargets: '{entry}' is not a host, host:port or CIDR range.";
        }
        if (MaxAttempts is < 1 or > 100) yield return $"Wharf:Webhooks:MaxAttempts must be 1 to 100, not {MaxAttempts}.";
        if (InitialRetryDelay <= TimeSpan.Zero) yield return "Wharf:Webhooks:InitialRetryDelay must be positive.";
        if (MaxRetryDelay < InitialRetryDelay) yield return "Wharf:Webhooks:MaxRetryDelay must be at least InitialRetryDelay.";
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5)) yield return "Wharf:Webhooks:Timeout must be more than 0 and at most 00:05:00.";
        if (PollInterval <= TimeSpan.Zero) yield return "Wharf:Webhooks:PollInterval must be positive.";
        if (Concurrency is < 1 or > 256) yield return $"Wharf:Webhooks:Concurrency must be 1 to 256, not {Concurrency}.";
        foreach (var (name, endpoint) in Endpoints)
        {
            if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                yield return $"Wharf:Webhooks:Endpoints:{name}:Url must be an http or https URL.";
            }
            if (!WebhookText.TryParseFormat(endpoint.Format, out _)) yield return $"Wharf:Webhooks:Endpoints:{name}:Format is 'distribution' or 'wharf'.";
            if (endpoint.Events is { Count: > 0 } && !WebhookText.TryParseEvents(endpoint.Events, out _))
            {
                yield return $"Wharf:Webhooks:Endpoints:{name}:Events are push, delete and build.";
            }
        }
    }
}

/// <summary>One global endpoint from configuration.</summary>
public sealed class WebhookEndpointOptions
{
    public string Url { get; set; } = "";

    /// <summary><c>distribution</c> (default: the reference registry's envelope) or <c>wharf</c>.</summary>
    public string Format { get; set; } = "distribution";

    /// <summary>The events sent. Default: push and delete.</summary>
    public List<string> Events { get; set; } = [];

    /// <summary>Signing secret for <c>X-Wharf-Signature-256</c>. Default none (no signature header).</summary>
    public string? Secret { get; set; }

    /// <summary>Extra request headers, e.g. <c>Authorization</c>, as the reference registry's <c>headers</c>.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}
