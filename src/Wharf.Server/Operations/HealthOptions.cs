namespace Wharf.Server.Operations;

/// <summary>Section <c>Wharf:Health</c>: the readiness probe <c>/readyz</c>.</summary>
public sealed class HealthOptions
{
    public const string Section = "Wharf:Health";

    /// <summary>How long each provider's check may take before it counts as failed. Default 2 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    public IEnumerable<string> Validate()
    {
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(1))
        {
            yield return $"Wharf:Health:Timeout must be more than 0 and at most 00:01:00, not {Timeout}.";
        }
    }
}
