using System.Text;
using System.Text.Json;
using Wharf.Core.Accounts;
using Wharf.Core.Repositories;
using Wharf.Core.Search;

namespace Wharf.Data;

/// <summary>How values are written as text in the metadata stores, the same on every provider.</summary>
internal static class StoredText
{
    /// <summary>Longest run of search words stored for one field (PostgreSQL's tsvector has a 1 MB limit; labels can be long).</summary>
    public const int MaxSearchWords = 100_000;

    public static TokenScopes ParseScopes(string text)
    {
        var scopes = TokenScopes.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (AccountText.TryParseScope(part, out var s)) scopes |= s;
        }
        return scopes;
    }

    public static string FormatScopes(TokenScopes scopes) => string.Join(',', AccountText.Format(scopes));

    public static OrganizationRole ParseRole(string text) => AccountText.TryParseRole(text, out var role) ? role : OrganizationRole.Reader;

    public static string Format(RepositoryVisibility visibility) => AccountText.Format(visibility);

    /// <summary>The blobs a manifest needs (config and layers), as stored digests, each once.</summary>
    public static string[] RequiredBlobDigests(Wharf.Core.Manifests.ParsedManifest manifest) =>
        [.. manifest.RequiredBlobs.Select(b => b.Digest.ToString()).Distinct(StringComparer.Ordinal)];

    public static RepositoryVisibility ParseVisibility(string? text) => text == "public" ? RepositoryVisibility.Public : RepositoryVisibility.Private;

    public static string? EmptyToNull(string? text) => string.IsNullOrEmpty(text) ? null : text;

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    public static DateTimeOffset? TimeOrNull(long? ms) => ms is { } value ? DateTimeOffset.FromUnixTimeMilliseconds(value) : null;

    public static IReadOnlyList<string> SplitPlatforms(string? text) => string.IsNullOrEmpty(text) ? [] : text.Split(',');

    public static string? JoinPlatforms(IReadOnlyList<string> platforms) => platforms.Count == 0 ? null : string.Join(',', platforms);

    /// <summary>Label keys and values as text for full-text search, one label a line.</summary>
    public static string? LabelsText(IReadOnlyDictionary<string, string>? labels) =>
        labels is null || labels.Count == 0 ? null : string.Join('\n', labels.Select(l => l.Key + " " + l.Value));

    /// <summary>The words of a text as search splits them (<see cref="SearchQuery.Tokenize"/>), space-separated and bounded.</summary>
    public static string? SearchWords(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var words = new StringBuilder();
        foreach (var word in SearchQuery.Tokenize(text))
        {
            if (words.Length + word.Length + 1 > MaxSearchWords) break;
            if (words.Length > 0) words.Append(' ');
            words.Append(word);
        }
        return words.Length == 0 ? null : words.ToString();
    }

    public static string? LabelsJson(IReadOnlyDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count == 0) return null;
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in labels) writer.WriteString(key, value);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static IReadOnlyDictionary<string, string>? ParseLabels(string? json)
    {
        if (string.IsNullOrEmpty(json)) return null;
        using var document = JsonDocument.Parse(json);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject()) labels[property.Name] = property.Value.GetString() ?? "";
        return labels;
    }
}
