using System.Globalization;
using Wharf.Core.Digests;

namespace Wharf.Server.Web;

/// <summary>How pages show sizes, times and digests.</summary>
public static class Format
{
    public static string Bytes(long? bytes)
    {
        if (bytes is not { } b) return "—";
        string[] units = ["B", "KB", "MB", "GB", "TB"];
        double value = b;
        var unit = 0;
        while (value >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }
        return unit == 0 ? $"{b} B" : value.ToString(value < 10 ? "0.0#" : value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>"3 minutes ago"; the exact UTC time goes in the <c>datetime</c> and <c>title</c> attributes.</summary>
    public static string Ago(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } time) return "never";
        var span = now - time;
        if (span < TimeSpan.FromSeconds(0)) span = TimeSpan.Zero;
        return span.TotalSeconds < 60 ? "just now"
            : span.TotalMinutes < 60 ? Plural((int)span.TotalMinutes, "minute")
            : span.TotalHours < 24 ? Plural((int)span.TotalHours, "hour")
            : span.TotalDays < 30 ? Plural((int)span.TotalDays, "day")
            : span.TotalDays < 365 ? Plural((int)(span.TotalDays / 30), "month")
            : Plural((int)(span.TotalDays / 365), "year");
    }

    private static string Plural(int n, string unit) => n == 1 ? $"1 {unit} ago" : $"{n} {unit}s ago";

    public static string Iso(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "";

    public static string Utc(DateTimeOffset? at) => at?.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) ?? "—";

    /// <summary><c>sha256:0123456789ab</c>: enough to tell digests apart on a page.</summary>
    public static string Short(Digest digest)
    {
        var text = digest.ToString();
        var colon = text.IndexOf(':');
        return colon >= 0 && text.Length > colon + 13 ? text[..(colon + 13)] : text;
    }

    public static string Short(string? digest) => digest is not null && Digest.TryParse(digest, out var d) ? Short(d) : digest ?? "";

    /// <summary>A repository's page URL; each path component escaped.</summary>
    public static string RepositoryUrl(string repository, string? suffix = null) =>
        "/r/" + string.Join('/', repository.Split('/').Select(Uri.EscapeDataString)) + (suffix is null ? "" : "/" + suffix);
}
