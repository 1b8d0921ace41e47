namespace Wharf.Core.Gc;

/// <summary>Options of the <c>Wharf:Gc</c> section: online garbage collection.</summary>
public sealed class GcOptions
{
    public const string Section = "Gc";

    /// <summary>Whether <c>wharf serve</c> collects on a schedule. Default true. <c>wharf gc</c> and <c>POST /api/v1/gc</c> work either way.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Time between scheduled collections. Default 1 hour.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// A blob is deleted only when it was last linked (uploaded, mounted, referenced by a pushed manifest) longer ago
    /// than this, and an untagged manifest only when it was pushed longer ago: a push in progress uploads its layers
    /// before its manifest. Default 1 hour.
    /// </summary>
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Whether manifests that no tag, no index and no live subject keeps are deleted. Default true.</summary>
    public bool DeleteUntagged { get; set; } = true;

    /// <summary>How many candidates one database query hands the collector at a time. Default 1,000.</summary>
    public int BatchSize { get; set; } = 1_000;

    public IEnumerable<string> Validate()
    {
        if (Interval <= TimeSpan.Zero) yield return "Gc:Interval must be positive.";
        if (GracePeriod < TimeSpan.Zero) yield return "Gc:GracePeriod must not be negative.";
        if (BatchSize < 1) yield return "Gc:BatchSize must be at least 1.";
    }
}
