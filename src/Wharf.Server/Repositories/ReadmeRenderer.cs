using System.Net;
using Markdig;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;
using Wharf.Core.Repositories;

namespace Wharf.Server.Repositories;

/// <summary>
/// Renders a repository README (Markdown) to HTML that is safe to embed: raw HTML in the Markdown is escaped, not
/// passed through, and links or images whose URL is not http(s), mailto or relative are neutralised, so a README
/// cannot inject script (<c>&lt;script&gt;</c>, <c>javascript:</c> URLs, event handlers). A README that nests deeper
/// than <see cref="MaxNesting"/> levels (quotes in quotes, lists in lists, emphasis in links…) is refused when it is
/// written (<see cref="IReadmeCheck"/>); one stored before that rule, or that fails to render for any other reason,
/// is shown as escaped plain text instead of failing the page.
/// </summary>
public sealed class ReadmeRenderer : IReadmeCheck
{
    /// <summary>Deepest nesting of blocks and inlines a README may have. GitHub-style READMEs stay far below it.</summary>
    public const int MaxNesting = 32;

    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseAutoLinks()
        .UseEmphasisExtras()
        .UseTaskLists()
        .Build();

    public string? Problem(string readme)
    {
        int depth;
        try
        {
            depth = Depth(Markdown.Parse(readme, Pipeline));
        }
        catch (ArgumentException)
        {
            depth = int.MaxValue; // Markdig's own depth limit, far above ours
        }
        return depth > MaxNesting ? $"readme nests more than {MaxNesting} levels deep (quotes, lists or emphasis inside each other); flatten it." : null;
    }

    /// <summary>The README as safe HTML; escaped plain text when it cannot be rendered as Markdown.</summary>
    public static string? Render(string? markdown)
    {
        if (string.IsNullOrEmpty(markdown)) return null;
        try
        {
            var document = Markdown.Parse(markdown, Pipeline);
            if (Depth(document) > MaxNesting) return PlainText(markdown);
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
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or InsufficientExecutionStackException or IndexOutOfRangeException)
        {
            return PlainText(markdown);
        }
    }

    private static string PlainText(string markdown) => "<pre>" + WebUtility.HtmlEncode(markdown) + "</pre>";

    /// <summary>How deeply the document's blocks and inlines nest, walked without recursion (stopping once past the limit).</summary>
    internal static int Depth(MarkdownDocument document)
    {
        var max = 0;
        var pending = new Stack<(MarkdownObject Node, int Depth)>();
        pending.Push((document, 0));
        while (pending.Count > 0)
        {
            var (node, depth) = pending.Pop();
            if (depth > max) max = depth;
            if (max > MaxNesting) return max;
            switch (node)
            {
                case ContainerBlock container:
                    foreach (var child in container) pending.Push((child, depth + 1));
                    break;
                case LeafBlock { Inline: { } inline }:
                    pending.Push((inline, depth + 1));
                    break;
                case ContainerInline inlines:
                    for (var child = inlines.FirstChild; child is not null; child = child.NextSibling) pending.Push((child, depth + 1));
                    break;
            }
        }
        return max;
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
