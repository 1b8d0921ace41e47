namespace Wharf.Core;

/// <summary>
/// A provider's check that it can serve (its server answers, with these credentials). Start-up runs every check before
/// listening, and a failure stops it with the check's message; <c>/readyz</c> runs them too and names the one that fails.
/// </summary>
public interface IReadinessCheck
{
    /// <summary>What is checked, for messages: <c>storage (S3)</c>.</summary>
    string Name { get; }

    /// <summary>Null when ready; otherwise one sentence saying what is wrong and which setting to look at.</summary>
    Task<string?> CheckAsync(CancellationToken cancellationToken);
}
