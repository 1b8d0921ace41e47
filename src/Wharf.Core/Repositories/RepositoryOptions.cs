namespace Wharf.Core.Repositories;

/// <summary>Section <c>Wharf:Repositories</c>: repositories, counters and search.</summary>
public sealed class RepositoryOptions
{
    public const string Section = "Repositories";

    /// <summary>Whether a push creates a repository that does not exist yet (in a namespace the caller may push to). Default true; when false, repositories are created with <c>POST /api/v1/repositories</c> first.</summary>
    public bool CreateOnPush { get; set; } = true;

    /// <summary>How often pull counters gathered in memory are written to the database. Default 5 seconds.</summary>
    public TimeSpan CounterFlushInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest image config blob read for labels and platform on push, in bytes; larger ones are skipped. Default 1 MiB.</summary>
    public int MaxConfigBytes { get; set; } = 1024 * 1024;

    /// <summary>Default page size of <c>/api/v1</c> listings and search. Default 25.</summary>
    public int DefaultPageSize { get; set; } = 25;

    /// <summary>Largest page size of <c>/api/v1</c> listings and search. Default 100.</summary>
    public int MaxPageSize { get; set; } = 100;

    /// <summary>Longest description, in characters. Default 1,000.</summary>
    public int MaxDescriptionLength { get; set; } = 1000;

    /// <summary>Longest README, in characters. Default 100,000.</summary>
    public int MaxReadmeLength { get; set; } = 100_000;

    public IEnumerable<string> Validate()
    {
        if (CounterFlushInterval <= TimeSpan.Zero || CounterFlushInterval > TimeSpan.FromHours(1)) yield return $"Wharf:Repositories:CounterFlushInterval must be between 00:00:00 and 01:00:00 (exclusive of 0), not {CounterFlushInterval}.";
        if (MaxConfigBytes < 0) yield return "Wharf:Repositories:MaxConfigBytes must not be negative.";
        if (MaxPageSize < 1) yield return "Wharf:Repositories:MaxPageSize must be at least 1.";
        if (DefaultPageSize < 1 || DefaultPageSize > MaxPageSize) yield return "Wharf:Repositories:DefaultPageSize must be between 1 and MaxPageSize.";
        if (MaxDescriptionLength < 0) yield return "Wharf:Repositories:MaxDescriptionLength must not be negative.";
        if (MaxReadmeLength < 0) yield return "Wharf:Repositories:MaxReadmeLength must not be negative.";
    }
}
