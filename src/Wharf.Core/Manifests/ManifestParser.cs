using System.Text.Json;
using Wharf.Core.Digests;

namespace Wharf.Core.Manifests;

/// <summary>The outcome of parsing a manifest: the manifest, or why it is invalid.</summary>
public readonly record struct ManifestParseResult(ParsedManifest? Manifest, string? Error)
{
    public bool IsValid => Manifest is not null;
    public static ManifestParseResult Invalid(string error) => new(null, error);
}

/// <summary>
/// Validates OCI image manifests and indexes and Docker schema2 manifests and manifest lists.
/// The bytes are never re-serialized: callers keep the raw bytes, this only reads them.
/// </summary>
public static class ManifestParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64, CommentHandling = JsonCommentHandling.Disallow };

    /// <summary>Strips parameters and white space from a Content-Type header value.</summary>
    public static string? NormalizeContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return null;
        var semicolon = contentType.IndexOf(';');
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim().ToLowerInvariant();
    }

    public static ManifestParseResult Parse(ReadOnlyMemory<byte> content, string? contentType)
    {
        var declaredType = NormalizeContentType(contentType);
        if (declaredType is not null && !MediaTypes.Manifests.Contains(declaredType))
        {
            return ManifestParseResult.Invalid(
                declaredType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed
                    ? "Docker schema1 manifests are not supported; push with a current client."
                    : $"Content-Type '{declaredType}' is not a manifest media type.");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content, Options);
        }
        catch (JsonException e)
        {
            return ManifestParseResult.Invalid($"The manifest is not valid JSON: {e.Message}");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return ManifestParseResult.Invalid("The manifest must be a JSON object.");
            if (!root.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number ||
                !version.TryGetInt32(out var schemaVersion) || schemaVersion != 2)
            {
                return ManifestParseResult.Invalid("schemaVersion must be 2.");
            }
            string? bodyType = null;
            if (root.TryGetProperty("mediaType", out var mediaTypeElement))
            {
                if (mediaTypeElement.ValueKind != JsonValueKind.String) return ManifestParseResult.Invalid("mediaType must be a string.");
                bodyType = mediaTypeElement.GetString();
                if (!MediaTypes.Manifests.Contains(bodyType!)) return ManifestParseResult.Invalid($"mediaType '{bodyType}' is not a manifest media type.");
            }
            if (bodyType is not null && declaredType is not null && bodyType != declaredType)
            {
                return ManifestParseResult.Invalid($"mediaType '{bodyType}' does not match Content-Type '{declaredType}'.");
            }
            var mediaType = bodyType ?? declaredType ?? (root.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex : MediaTypes.OciManifest);
            if (mediaType is MediaTypes.DockerManifest or MediaTypes.DockerManifestList && bodyType is null)
            {
                return ManifestParseResult.Invalid("A Docker schema2 manifest must carry its mediaType field.");
            }
            return MediaTypes.IsIndex(mediaType) ? ParseIndex(root, mediaType) : ParseImageManifest(root, mediaType);
        }
    }

    private static ManifestParseResult ParseImageManifest(JsonElement root, string mediaType)
    {
        if (root.TryGetProperty("manifests", out _)) return ManifestParseResult.Invalid("An image manifest must not have a manifests field.");
        if (!root.TryGetProperty("config", out var configElement)) return ManifestParseResult.Invalid("config is required.");
        if (!TryReadDescriptor(configElement, "config", out var config, out var error)) return ManifestParseResult.Invalid(error);
        var layers = new List<Descriptor>();
        if (root.TryGetProperty("layers", out var layersElement))
        {
            if (!TryReadDescriptors(layersElement, "layers", layers, out error)) return ManifestParseResult.Invalid(error);
        }
        else if (mediaType == MediaTypes.DockerManifest)
        {
            return ManifestParseResult.Invalid("layers is required.");
        }
        return Finish(root, new ParsedManifest(mediaType) { Config = config, Layers = layers });
    }

    private static ManifestParseResult ParseIndex(JsonElement root, string mediaType)
    {
        if (root.TryGetProperty("config", out _) || root.TryGetProperty("layers", out _))
        {
            return ManifestParseResult.Invalid("An index must not have config or layers fields.");
        }
        if (!root.TryGetProperty("manifests", out var manifestsElement)) return ManifestParseResult.Invalid("manifests is required.");
        var manifests = new List<Descriptor>();
        if (!TryReadDescriptors(manifestsElement, "manifests", manifests, out var error)) return ManifestParseResult.Invalid(error);
        return Finish(root, new ParsedManifest(mediaType) { Manifests = manifests });
    }

    private static ManifestParseResult Finish(JsonElement root, ParsedManifest manifest)
    {
        Descriptor? subject = null;
        if (root.TryGetProperty("subject", out var subjectElement) && subjectElement.ValueKind != JsonValueKind.Null)
        {
            if (!TryReadDescriptor(subjectElement, "subject", out subject, out var error)) return ManifestParseResult.Invalid(error);
        }
        string? artifactType = null;
        if (root.TryGetProperty("artifactType", out var artifactElement) && artifactElement.ValueKind != JsonValueKind.Null)
        {
            if (artifactElement.ValueKind != JsonValueKind.String) return ManifestParseResult.Invalid("artifactType must be a string.");
            artifactType = artifactElement.GetString();
        }
        if (!TryReadAnnotations(root, "manifest", out var annotations, out var annotationError)) return ManifestParseResult.Invalid(annotationError);
        return new ManifestParseResult(manifest with { Subject = subject, ArtifactType = artifactType, AnnotationsJson = annotations }, null);
    }

    private static bool TryReadDescriptors(JsonElement element, string field, List<Descriptor> into, out string error)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            error = $"{field} must be an array.";
            return false;
        }
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            if (!TryReadDescriptor(item, $"{field}[{index}]", out var descriptor, out error)) return false;
            into.Add(descriptor);
            index++;
        }
        error = "";
        return true;
    }

    private static bool TryReadDescriptor(JsonElement element, string field, out Descriptor descriptor, out string error)
    {
        descriptor = null!;
        if (element.ValueKind != JsonValueKind.Object)
        {
            error = $"{field} must be a descriptor object.";
            return false;
        }
        if (!element.TryGetProperty("mediaType", out var mediaType) || mediaType.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(mediaType.GetString()))
        {
            error = $"{field}.mediaType is required.";
            return false;
        }
        if (!element.TryGetProperty("digest", out var digestElement) || digestElement.ValueKind != JsonValueKind.String)
        {
            error = $"{field}.digest is required.";
            return false;
        }
        if (!Digest.TryParse(digestElement.GetString(), out var digest))
        {
            error = $"{field}.digest '{digestElement.GetString()}' is not a valid sha256 or sha512 digest.";
            return false;
        }
        if (!element.TryGetProperty("size", out var sizeElement) || sizeElement.ValueKind != JsonValueKind.Number || !sizeElement.TryGetInt64(out var size) || size < 0)
        {
            error = $"{field}.size must be a non-negative integer.";
            return false;
        }
        string? artifactType = null;
        if (element.TryGetProperty("artifactType", out var artifactElement) && artifactElement.ValueKind == JsonValueKind.String)
        {
            artifactType = artifactElement.GetString();
        }
        if (!TryReadAnnotations(element, field, out var annotations, out error)) return false;
        string? platform = null;
        if (element.TryGetProperty("platform", out var platformElement) && platformElement.ValueKind != JsonValueKind.Null)
        {
            if (platformElement.ValueKind != JsonValueKind.Object)
            {
                error = $"{field}.platform must be an object.";
                return false;
            }
            platform = platformElement.GetRawText();
        }
        // urls make a layer foreign only for the media types meant for it: an ordinary layer with urls must still be
        // in the registry (else anyone could point a manifest at content the registry never checked).
        var foreign = MediaTypes.IsNonDistributableLayer(mediaType.GetString()!)
                      && element.TryGetProperty("urls", out var urls) && urls.ValueKind == JsonValueKind.Array && urls.GetArrayLength() > 0;
        descriptor = new Descriptor(mediaType.GetString()!, digest, size)
        {
            ArtifactType = artifactType,
            AnnotationsJson = annotations,
            PlatformJson = platform,
            IsForeign = foreign,
        };
        error = "";
        return true;
    }

    private static bool TryReadAnnotations(JsonElement element, string field, out string? annotations, out string error)
    {
        annotations = null;
        error = "";
        if (!element.TryGetProperty("annotations", out var annotationsElement) || annotationsElement.ValueKind == JsonValueKind.Null) return true;
        if (annotationsElement.ValueKind != JsonValueKind.Object)
        {
            error = $"{field}.annotations must be an object of strings.";
            return false;
        }
        foreach (var property in annotationsElement.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                error = $"{field}.annotations[\"{property.Name}\"] must be a string.";
                return false;
            }
        }
        annotations = annotationsElement.GetRawText();
        return true;
    }
}
