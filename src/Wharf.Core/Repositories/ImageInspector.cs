using System.Text.Json;
using Wharf.Core.Digests;
using Wharf.Core.Manifests;
using Wharf.Core.References;
using Wharf.Core.Registry;

namespace Wharf.Core.Repositories;

/// <summary>One layer of an image, with the history entry that made it (when the config has one).</summary>
public sealed record ImageLayerInfo(Digest Digest, long Size, string MediaType, string? CreatedBy);

/// <summary>A history step that made no layer (<c>ENV</c>, <c>EXPOSE</c>, <c>CMD</c>, …), in order with the layers.</summary>
public sealed record ImageHistoryStep(string? CreatedBy, int? LayerIndex, DateTimeOffset? Created);

/// <summary>What an image config says about how the image runs.</summary>
public sealed record ImageConfigSummary(
    DateTimeOffset? Created,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<string> ExposedPorts,
    IReadOnlyList<string> Env,
    IReadOnlyList<string> Entrypoint,
    IReadOnlyList<string> Cmd,
    string? User,
    string? WorkingDir,
    IReadOnlyList<ImageHistoryStep> History);

/// <summary>One image of a tag: the tag's own manifest, or one platform of an index.</summary>
public sealed record ImagePlatform(string? Platform, Digest Digest, string MediaType, long Size, IReadOnlyList<ImageLayerInfo> Layers, ImageConfigSummary? Config);

/// <summary>A tag (or digest) resolved to its manifest and, for an index, one entry per platform.</summary>
public sealed record ImageInspection(Digest Digest, string MediaType, bool IsIndex, IReadOnlyList<ImagePlatform> Images);

/// <summary>
/// Reads a manifest, its children and image configs to show what an image holds: per platform its digest, size and
/// layers; with <c>withConfig</c> also the config's labels, exposed ports, environment, entrypoint and the commands
/// that made each layer. It does not check permissions: callers ask <see cref="RepositoryService.GetAsync"/> first.
/// Configs larger than <see cref="MaxConfigBytes"/> are skipped; attestation entries (<c>unknown/unknown</c>) are left out.
/// </summary>
public sealed class ImageInspector(RegistryService registry, BlobService blobs)
{
    public const int MaxConfigBytes = 1024 * 1024;
    private const int MaxListItems = 256;

    public async ValueTask<ImageInspection?> InspectAsync(string repository, ManifestReference reference, bool withConfig, CancellationToken cancellationToken)
    {
        var stored = await registry.GetManifestAsync(repository, reference, cancellationToken);
        if (!stored.IsOk) return null;
        var manifest = stored.Value!;
        var parsed = ManifestParser.Parse(manifest.Content, manifest.MediaType).Manifest;
        if (parsed is null) return new ImageInspection(manifest.Digest, manifest.MediaType, false, []);
        if (!parsed.IsIndex)
        {
            var image = await ImageAsync(repository, null, manifest.Digest, manifest.MediaType, parsed, withConfig, cancellationToken);
            return new ImageInspection(manifest.Digest, manifest.MediaType, false, [image]);
        }
        var images = new List<ImagePlatform>();
        foreach (var child in parsed.Manifests.Take(MaxListItems))
        {
            var platform = ImageConfigReader.ReadPlatform(child.PlatformJson);
            if (platform is null && child.PlatformJson is not null) continue; // an attestation or another non-image
            var childManifest = await registry.GetManifestAsync(repository, ManifestReference.ForDigest(child.Digest), cancellationToken);
            if (!childManifest.IsOk) continue;
            var childParsed = ManifestParser.Parse(childManifest.Value!.Content, childManifest.Value.MediaType).Manifest;
            if (childParsed is null || childParsed.IsIndex) continue;
            images.Add(await ImageAsync(repository, platform, child.Digest, child.MediaType, childParsed, withConfig, cancellationToken));
        }
        return new ImageInspection(manifest.Digest, manifest.MediaType, true, images);
    }

    private async Task<ImagePlatform> ImageAsync(string repository, string? platform, Digest digest, string mediaType, ParsedManifest manifest, bool withConfig, CancellationToken cancellationToken)
    {
        long size = 0;
        foreach (var layer in manifest.Layers) size += layer.Size;
        ImageConfigSummary? config = null;
        byte[]? configBytes = null;
        if (manifest.Config is { } descriptor && descriptor.Size is > 0 and <= MaxConfigBytes
            && descriptor.MediaType is MediaTypes.OciConfig or MediaTypes.DockerConfig
            && (withConfig || platform is null))
        {
            configBytes = await ReadAsync(repository, descriptor.Digest, (int)descriptor.Size, cancellationToken);
        }
        if (configBytes is not null)
        {
            platform ??= ImageConfigReader.ReadConfig(configBytes).Platform;
            if (withConfig) config = ReadConfig(configBytes);
        }
        var layers = new List<ImageLayerInfo>(manifest.Layers.Count);
        var commands = config?.History.Where(h => h.LayerIndex is not null).ToDictionary(h => h.LayerIndex!.Value, h => h.CreatedBy);
        for (var i = 0; i < manifest.Layers.Count && i < MaxListItems; i++)
        {
            var layer = manifest.Layers[i];
            layers.Add(new ImageLayerInfo(layer.Digest, layer.Size, layer.MediaType, commands is not null && commands.TryGetValue(i, out var by) ? by : null));
        }
        return new ImagePlatform(platform, digest, mediaType, size, layers, config);
    }

    private async Task<byte[]?> ReadAsync(string repository, Digest digest, int size, CancellationToken cancellationToken)
    {
        var linked = await blobs.StatAsync(repository, digest, cancellationToken);
        if (!linked.IsOk || linked.Value.Size != size) return null;
        var opened = await blobs.OpenAsync(linked.Value, 0, size, cancellationToken);
        if (!opened.IsOk) return null;
        await using var stream = opened.Value!;
        var buffer = new byte[size];
        return await stream.ReadAtLeastAsync(buffer, size, throwOnEndOfStream: false, cancellationToken) == size ? buffer : null;
    }

    /// <summary>Reads the parts of an image config a page shows; never throws on bad input.</summary>
    public static ImageConfigSummary? ReadConfig(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            var config = root.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var ports = new List<string>();
            IReadOnlyList<string> env = [], entrypoint = [], cmd = [];
            string? user = null, workingDir = null;
            if (config.ValueKind == JsonValueKind.Object)
            {
                if (config.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
                {
                    foreach (var label in l.EnumerateObject().Take(MaxListItems))
                    {
                        if (label.Value.ValueKind == JsonValueKind.String) labels[label.Name] = label.Value.GetString() ?? "";
                    }
                }
                if (config.TryGetProperty("ExposedPorts", out var p) && p.ValueKind == JsonValueKind.Object)
                {
                    ports.AddRange(p.EnumerateObject().Take(MaxListItems).Select(x => x.Name));
                }
                env = Strings(config, "Env");
                entrypoint = Strings(config, "Entrypoint");
                cmd = Strings(config, "Cmd");
                user = String(config, "User");
                workingDir = String(config, "WorkingDir");
            }
            var history = new List<ImageHistoryStep>();
            if (root.TryGetProperty("history", out var h) && h.ValueKind == JsonValueKind.Array)
            {
                var layerIndex = 0;
                foreach (var step in h.EnumerateArray().Take(MaxListItems * 2))
                {
                    if (step.ValueKind != JsonValueKind.Object) continue;
                    var empty = step.TryGetProperty("empty_layer", out var e) && e.ValueKind == JsonValueKind.True;
                    history.Add(new ImageHistoryStep(String(step, "created_by"), empty ? null : layerIndex, Time(String(step, "created"))));
                    if (!empty) layerIndex++;
                }
            }
            return new ImageConfigSummary(Time(String(root, "created")), labels, ports, env, entrypoint, cmd, user, workingDir, history);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static IReadOnlyList<string> Strings(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Take(MaxListItems).Select(v => v.GetString() ?? "")]
            : [];

    private static DateTimeOffset? Time(string? text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null;
}
