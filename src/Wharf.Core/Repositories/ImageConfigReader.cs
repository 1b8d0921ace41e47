using System.Text.Json;

namespace Wharf.Core.Repositories;

/// <summary>
/// Reads what listings and search need from an image config blob (<c>os</c>, <c>architecture</c>, <c>variant</c>,
/// <c>config.Labels</c>) and from an index entry's <c>platform</c>. Never throws on bad input: it gives nothing instead.
/// </summary>
public static class ImageConfigReader
{
    /// <summary>Most labels kept per image.</summary>
    public const int MaxLabels = 64;

    /// <summary>Longest label key or value kept, in characters.</summary>
    public const int MaxLabelLength = 512;

    public static (string? Platform, IReadOnlyDictionary<string, string>? Labels) ReadConfig(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return (null, null);
            var platform = Platform(root);
            Dictionary<string, string>? labels = null;
            if (root.TryGetProperty("config", out var config) && config.ValueKind == JsonValueKind.Object
                && config.TryGetProperty("Labels", out var labelsElement) && labelsElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var label in labelsElement.EnumerateObject())
                {
                    if (label.Value.ValueKind != JsonValueKind.String) continue;
                    labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    if (labels.Count >= MaxLabels) break;
                    labels[Truncate(label.Name)] = Truncate(label.Value.GetString() ?? "");
                }
            }
            return (platform, labels);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>The platform of an index entry from its raw <c>platform</c> JSON; null when absent, invalid or <c>unknown/unknown</c> (attestations).</summary>
    public static string? ReadPlatform(string? platformJson)
    {
        if (string.IsNullOrEmpty(platformJson)) return null;
        try
        {
            using var document = JsonDocument.Parse(platformJson);
            return document.RootElement.ValueKind == JsonValueKind.Object ? Platform(document.RootElement) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Platform(JsonElement element)
    {
        var os = String(element, "os");
        var architecture = String(element, "architecture");
        if (os is null || architecture is null || (os == "unknown" && architecture == "unknown")) return null;
        var variant = String(element, "variant");
        return variant is null ? $"{os}/{architecture}" : $"{os}/{architecture}/{variant}";
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 and <= 64 } text ? text : null;

    private static string Truncate(string text) => text.Length <= MaxLabelLength ? text : text[..MaxLabelLength];
}
