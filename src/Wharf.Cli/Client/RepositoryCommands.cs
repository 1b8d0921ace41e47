using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Credentials;
using Wharf.Client.Images;
using Wharf.Client.Registry;
using Wharf.Core.Manifests;

namespace Wharf.Cli.Client;

/// <summary><c>wharf tags NAME</c>, <c>wharf rm NAME:TAG</c>, <c>wharf inspect NAME:TAG</c>: over the registry API, so they work with any registry.</summary>
internal static class RepositoryCommands
{
    public static Command Tags()
    {
        var name = new Argument<string>("NAME") { Description = "namespace/repo, or host:port/namespace/repo." };
        var command = new Command("tags", "List a repository's tags with digest, size, media type and platforms.") { name };
        CliContext.SetAction(command, async context =>
        {
            var reference = CliContext.ParseImage(context.Parse.GetValue(name));
            var server = await context.ServerAsync(reference.Registry);
            using var client = await context.RegistryAsync(server);
            var tags = await client.ListTagsAsync(reference.Repository, context.CancellationToken);
            var rows = new TagRow[tags.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, tags.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = context.CancellationToken },
                async (i, ct) => rows[i] = await DescribeAsync(client, reference.Repository, tags[i], ct));
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["name"] = reference.Repository,
                    ["tags"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
                    {
                        ["tag"] = r.Tag,
                        ["digest"] = r.Digest,
                        ["media_type"] = r.MediaType,
                        ["size"] = r.Size,
                        ["platforms"] = new JsonArray([.. r.Platforms.Select(p => (JsonNode)p)]),
                    })]),
                });
                return ExitCodes.Ok;
            }
            if (rows.Length == 0)
            {
                context.Say($"{reference.Repository} has no tags.");
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns(new TableColumn("TAG"), new TableColumn("DIGEST").NoWrap(), new TableColumn("SIZE").NoWrap(), new TableColumn("MEDIA TYPE"), new TableColumn("PLATFORMS"));
            if (!context.Interactive) table.Border(TableBorder.None);
            foreach (var r in rows) table.AddRow(Markup.Escape(r.Tag), r.Digest, CliContext.Size(r.Size), Markup.Escape(r.MediaType), Markup.Escape(string.Join(", ", r.Platforms)));
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    private sealed record TagRow(string Tag, string Digest, string MediaType, long Size, IReadOnlyList<string> Platforms);

    private static async Task<TagRow> DescribeAsync(RegistryClient client, string repository, string tag, CancellationToken ct)
    {
        var manifest = await client.GetManifestAsync(repository, tag, ct);
        var parsed = ManifestParser.Parse(manifest.Content, manifest.MediaType).Manifest;
        if (parsed is null) return new TagRow(tag, manifest.Digest.ToString(), manifest.MediaType, manifest.Content.Length, []);
        if (parsed.IsIndex)
        {
            var platforms = parsed.Manifests.Select(m => Platform.FromJson(m.PlatformJson)?.ToString()).OfType<string>().ToList();
            long size = 0;
            foreach (var child in parsed.Manifests)
            {
                var childManifest = await client.GetManifestAsync(repository, child.Digest.ToString(), ct);
                size += ManifestParser.Parse(childManifest.Content, childManifest.MediaType).Manifest?.Layers.Sum(l => l.Size) ?? 0;
            }
            return new TagRow(tag, manifest.Digest.ToString(), manifest.MediaType, size, platforms);
        }
        var platform = parsed.Config is { } config && config.MediaType is Wharf.Core.MediaTypes.OciConfig or Wharf.Core.MediaTypes.DockerConfig
            ? await ConfigPlatformAsync(client, repository, config, ct)
            : null;
        return new TagRow(tag, manifest.Digest.ToString(), manifest.MediaType, parsed.Layers.Sum(l => l.Size), platform is null ? [] : [platform]);
    }

    private static async Task<string?> ConfigPlatformAsync(RegistryClient client, string repository, Descriptor config, CancellationToken ct)
    {
        if (config.Size > 4 * 1024 * 1024) return null;
        await using var stream = await client.OpenBlobAsync(repository, config.Digest, ct);
        using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: ct);
        var root = doc.RootElement;
        string? Get(string p) => root.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return Get("os") is { } os && Get("architecture") is { } arch ? new Platform(os, arch, Get("variant")).ToString() : null;
    }

    public static Command Remove()
    {
        var name = new Argument<string>("NAME:TAG") { Description = "The tag to remove (NAME:TAG), or a whole manifest (NAME@sha256:…)." };
        var command = new Command("rm", "Remove a tag, or a manifest by digest, from Wharf.") { name };
        CliContext.SetAction(command, async context =>
        {
            var reference = CliContext.ParseImage(context.Parse.GetValue(name));
            if (reference.Tag is null && reference.Digest is null)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, "Say which tag to remove: NAME:TAG (or NAME@DIGEST for the manifest and all its tags).");
            }
            var server = await context.ServerAsync(reference.Registry);
            using var client = await context.RegistryAsync(server);
            var digest = reference.Digest is { } d
                ? await client.DeleteManifestAsync(reference.Repository, d.ToString(), context.CancellationToken)
                : await client.DeleteTagAsync(reference.Repository, reference.Tag!, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["name"] = reference.Repository, ["reference"] = reference.ManifestReference, ["digest"] = digest.ToString(), ["deleted"] = true });
            else context.Say($"Deleted {reference.RepositoryAndReference} ({digest})");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Inspect()
    {
        var name = new Argument<string>("NAME:TAG") { Description = "The image: namespace/repo:tag or namespace/repo@sha256:…." };
        var platform = new Option<string?>("--platform", "-p") { Description = "os/arch[/variant] to describe from a multi-platform image (default: list them all, and describe this machine's)." };
        var command = new Command("inspect", "Show an image's manifest, config and layers with their sizes.") { name, platform };
        CliContext.SetAction(command, async context =>
        {
            var reference = CliContext.ParseImage(context.Parse.GetValue(name));
            Platform? wanted = null;
            if (context.Parse.GetValue(platform) is { } p && !Platform.TryParse(p, out wanted))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{p}' is not a platform; use os/arch[/variant].");
            }
            var server = await context.ServerAsync(reference.Registry);
            using var client = await context.RegistryAsync(server);
            var puller = new ImagePuller(client, NullTransferObserver.Instance);
            var root = await client.GetManifestAsync(reference.Repository, reference.ManifestReference, context.CancellationToken);
            var rootParsed = ManifestParser.Parse(root.Content, root.MediaType).Manifest;
            PulledImage? image = null;
            try
            {
                image = await puller.ResolveAsync(reference.Repository, reference.ManifestReference, wanted, context.CancellationToken);
            }
            catch (WharfClientException e) when (e.Kind == ClientErrorKind.NotFound && wanted is null && rootParsed?.IsIndex == true)
            {
                // An index without this machine's platform: show the index alone.
            }
            byte[]? config = null;
            if (image?.Parsed.Config is { } configDescriptor && configDescriptor.Size <= 4 * 1024 * 1024)
            {
                await using var stream = await client.OpenBlobAsync(reference.Repository, configDescriptor.Digest, context.CancellationToken);
                using var buffer = new MemoryStream();
                await stream.CopyToAsync(buffer, context.CancellationToken);
                config = buffer.ToArray();
            }
            if (context.Json)
            {
                var json = new JsonObject
                {
                    ["name"] = reference.Repository,
                    ["reference"] = reference.ManifestReference,
                    ["digest"] = root.Digest.ToString(),
                    ["media_type"] = root.MediaType,
                    ["manifest"] = JsonNode.Parse(root.Content),
                };
                if (rootParsed?.IsIndex == true)
                {
                    json["platforms"] = new JsonArray([.. rootParsed.Manifests.Select(m => (JsonNode)new JsonObject
                    {
                        ["digest"] = m.Digest.ToString(),
                        ["platform"] = Platform.FromJson(m.PlatformJson)?.ToString(),
                        ["size"] = m.Size,
                    })]);
                }
                if (image is not null)
                {
                    json["image_digest"] = image.Image.Digest.ToString();
                    if (!ReferenceEquals(image.Image, image.Root)) json["image_manifest"] = JsonNode.Parse(image.Image.Content);
                    json["config"] = config is null ? null : JsonNode.Parse(config);
                    json["layers"] = new JsonArray([.. image.Parsed.Layers.Select(l => (JsonNode)new JsonObject
                    {
                        ["digest"] = l.Digest.ToString(),
                        ["size"] = l.Size,
                        ["media_type"] = l.MediaType,
                    })]);
                    json["size"] = image.Parsed.Layers.Sum(l => l.Size);
                }
                context.WriteJson(json);
                return ExitCodes.Ok;
            }
            context.Say($"Name:        {ServerAddress.HostKey(server)}/{reference.RepositoryAndReference}");
            context.Say($"Digest:      {root.Digest}");
            context.Say($"Media type:  {root.MediaType}");
            if (rootParsed?.IsIndex == true)
            {
                context.Say("Platforms:");
                foreach (var m in rootParsed.Manifests) context.Say($"  {Platform.FromJson(m.PlatformJson)?.ToString() ?? "unknown",-20} {m.Digest}");
            }
            if (image is null) return ExitCodes.Ok;
            if (!ReferenceEquals(image.Image, image.Root)) context.Say($"Image ({image.Platform}): {image.Image.Digest}");
            if (image.Parsed.Config is { } c) context.Say($"Config:      {c.Digest} ({c.MediaType}, {CliContext.Size(c.Size)})");
            if (config is not null)
            {
                using var doc = JsonDocument.Parse(config);
                var r = doc.RootElement;
                string? Get(string p) => r.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                if (Get("os") is { } os) context.Say($"Platform:    {os}/{Get("architecture")}{(Get("variant") is { } v ? "/" + v : "")}");
                if (Get("created") is { } created) context.Say($"Created:     {created}");
            }
            context.Say($"Size:        {CliContext.Size(image.Parsed.Layers.Sum(l => l.Size))} in {image.Parsed.Layers.Count} layer(s)");
            var table = new Table().AddColumns(new TableColumn("LAYER").NoWrap(), new TableColumn("SIZE").NoWrap(), new TableColumn("MEDIA TYPE"));
            if (!context.Interactive) table.Border(TableBorder.None);
            foreach (var l in image.Parsed.Layers) table.AddRow(l.Digest.ToString(), CliContext.Size(l.Size), Markup.Escape(l.MediaType));
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }
}
