using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Wharf.Core.Builds;

namespace Wharf.Server.Endpoints.Builds;

/// <summary>
/// A build's multipart form, read section by section: file parts stream straight into the source store (never
/// buffered whole), text fields are kept (64 KiB each at most).
/// </summary>
internal sealed class BuildForm
{
    private const int MaxFieldBytes = 64 * 1024;
    private const int MaxSections = 200;

    public Dictionary<string, List<string>> Fields { get; } = new(StringComparer.Ordinal);

    public BuildSourceKind? SourceKind { get; private set; }

    /// <summary>What storing the file part answered (null when there was none).</summary>
    public SourceSaveResult? Source { get; private set; }

    /// <summary>A problem with the form itself (not multipart, two files, a field too long).</summary>
    public string? Error { get; private set; }

    public string? Field(string name) => Fields.TryGetValue(name, out var values) ? values[^1] : null;

    /// <summary>Reads the form; <paramref name="fileFields"/> maps a part name to the kind of source it carries.</summary>
    public static async Task<BuildForm> ReadAsync(HttpRequest request, Guid buildId, IBuildSourceStore sources,
        IReadOnlyDictionary<string, BuildSourceKind> fileFields, CancellationToken cancellationToken)
    {
        var form = new BuildForm();
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
        {
            form.Error = "The request must be multipart/form-data.";
            return form;
        }
        var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = 16 * 1024 };
        var sections = 0;
        try
        {
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (++sections > MaxSections)
                {
                    form.Error = "The form has too many parts.";
                    return form;
                }
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (fileFields.TryGetValue(name, out var kind))
                {
                    if (form.SourceKind is not null)
                    {
                        form.Error = $"Send one source: a Dockerfile or a context, not both ('{name}' came second).";
                        return form;
                    }
                    form.SourceKind = kind;
                    form.Source = kind == BuildSourceKind.Context
                        ? await sources.SaveContextAsync(buildId, section.Body, cancellationToken)
                        : await sources.SaveDockerfileAsync(buildId, section.Body, cancellationToken);
                    if (!form.Source.Succeeded) return form;
                    continue;
                }
                var value = await ReadFieldAsync(section.Body, cancellationToken);
                if (value is null)
                {
                    form.Error = $"The form field '{name}' is longer than {MaxFieldBytes} bytes.";
                    return form;
                }
                if (!form.Fields.TryGetValue(name, out var list)) form.Fields[name] = list = [];
                list.Add(value);
            }
        }
        catch (InvalidDataException e)
        {
            form.Error = $"The multipart body is malformed: {e.Message}";
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            form.Error = $"The multipart body is malformed: {e.Message}";
        }
        return form;
    }

    /// <summary>
    /// When the form carried no file, stores the text field <paramref name="field"/> as the Dockerfile (the web UI's
    /// text box: a field, so the text can be shown again when the form is refused).
    /// </summary>
    public async Task UseDockerfileTextAsync(string field, Guid buildId, IBuildSourceStore sources, CancellationToken cancellationToken)
    {
        if (SourceKind is not null || Error is not null || Field(field) is not { Length: > 0 } text) return;
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(text), writable: false);
        SourceKind = BuildSourceKind.Dockerfile;
        Source = await sources.SaveDockerfileAsync(buildId, content, cancellationToken);
    }

    /// <summary>build_args as a JSON object, or one or more <c>KEY=VALUE</c> fields.</summary>
    public bool TryGetBuildArgs(out Dictionary<string, string> args, out string? error)
    {
        args = new Dictionary<string, string>(StringComparer.Ordinal);
        error = null;
        if (!Fields.TryGetValue("build_args", out var values)) return true;
        foreach (var value in values)
        {
            var text = value.Trim();
            if (text.Length == 0) continue;
            if (text.StartsWith('{'))
            {
                try
                {
                    using var document = JsonDocument.Parse(text);
                    foreach (var property in document.RootElement.EnumerateObject())
                    {
                        if (property.Value.ValueKind != JsonValueKind.String)
                        {
                            error = $"build_args: the value of '{property.Name}' must be a string.";
                            return false;
                        }
                        args[property.Name] = property.Value.GetString()!;
                    }
                }
                catch (JsonException)
                {
                    error = "build_args is not a JSON object of strings.";
                    return false;
                }
                continue;
            }
            foreach (var pair in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    error = $"build_args: '{pair}' is not KEY=VALUE.";
                    return false;
                }
                args[pair[..equals]] = pair[(equals + 1)..];
            }
        }
        return true;
    }

    private static async Task<string?> ReadFieldAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
            if (total > MaxFieldBytes)
            {
                return null;
            }
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }
}
