using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace Wharf.Server.Repositories;

/// <summary>
/// Renders a repository README (Markdown) to HTML that is safe to embed: raw HTML in the Markdown is escaped, not
/// passed through, and links or images whose URL is not http(s), mailto or relative are neutralised, so a README
/// cannot inject script (<c>&lt;script&gt;</c>, <c>javascript:</c> URLs, event handlers).
/// </summary>
public static class ReadmeRenderer
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseAutoLinks()
        .UseEmphasisExtras()
        .UseTaskLists()
        .Build();

    public static string? Render(string? markdown)
    {
        if (string.IsNullOrEmpty(markdown)) return null;
        var document = Markdown.Parse(markdown, Pipeline);
        foreach (var link in document.Descendants<LinkInline>())
        {
            if (!IsSafeUrl(link.Url)) link.Url = "#";
        }
        foreach (var autolink in document.Descendants<AutolinkInline>())
        {
            if (!autolink.IsEmail && !IsSafeUrl(autolink.Url)) autolink.Url = "#";
        }
        foreach (var definition in document.Descendants<LinkReferenceDefinition>())
        {
            if (!IsSafeUrl(definition.Url)) definition.Url = "#";
        }
        return document.ToHtml(Pipeline);
    }

    internal static bool IsSafeUrl(string? url)
    {
        if (string.IsNullOrWhiteSpace(url)) return true;
        var trimmed = url.Trim();
        var colon = trimmed.IndexOf(':');
        if (colon < 0) return true; // relative
        var slash = trimmed.IndexOfAny(['/', '?', '#']);
        if (slash >= 0 && slash < colon) return true; // the colon is after the path starts: relative
        var scheme = trimmed[..colon];
        return scheme.Equals("http", StringComparison.OrdinalIgnoreCase)
            || scheme.Equals("https", StringComparison.OrdinalIgnoreCase)
            || scheme.Equals("mailto", StringComparison.OrdinalIgnoreCase);
    }
}
