using System.Runtime.InteropServices;
using System.Text.Json;

namespace Wharf.Client.Images;

/// <summary>An image platform, <c>os/architecture[/variant]</c> in Go naming (linux/amd64, linux/arm64/v8).</summary>
public sealed record Platform(string Os, string Architecture, string? Variant)
{
    public static Platform Host => new("linux", GoArchitecture(RuntimeInformation.OSArchitecture), null);

    public static bool TryParse(string? text, out Platform? platform)
    {
        platform = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var parts = text.Trim().Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(string.IsNullOrWhiteSpace)) return false;
        platform = new Platform(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant(), parts.Length == 3 ? parts[2].ToLowerInvariant() : null);
        return true;
    }

    /// <summary>Reads an index entry's <c>platform</c> object.</summary>
    public static Platform? FromJson(string? json)
    {
        if (json is null) return null;
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        string? Get(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return Get("os") is { } os && Get("architecture") is { } arch ? new Platform(os, arch, Get("variant")) : null;
    }

    /// <summary>True when <paramref name="candidate"/> satisfies this request; a request without a variant takes any variant.</summary>
    public bool Matches(Platform? candidate) =>
        candidate is not null && candidate.Os == Os && candidate.Architecture == Architecture && (Variant is null || candidate.Variant == Variant);

    public static string GoArchitecture(Architecture architecture) => architecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        _ => architecture.ToString().ToLowerInvariant(),
    };

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
}
