using System.CommandLine;
using System.Text.Json.Nodes;
using Wharf.Client;
using Wharf.Client.Credentials;
using Wharf.Client.Docker;
using Wharf.Client.Images;

namespace Wharf.Cli.Client;

/// <summary><c>wharf pull NAME:TAG [--to DIR|FILE] [--platform P]</c>: into the Docker daemon, or into an OCI layout or docker-archive.</summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME:TAG") { Description = "What to pull: namespace/repo:tag, namespace/repo@sha256:…, or with host:port/ in front." };
        var to = new Option<string?>("--to", "-t") { Description = "Write here instead of loading into Docker: a folder (OCI layout) or FILE.tar (docker-archive, for docker load)." };
        var format = new Option<string?>("--format") { Description = "Output format for --to: oci (layout folder), docker-archive or oci-archive (default: by the name: *.tar is docker-archive)." };
        format.AcceptOnlyFromAmong("oci", "docker-archive", "oci-archive");
        var platform = new Option<string?>("--platform", "-p") { Description = "os/arch[/variant] to pick from a multi-platform image (default: this machine's)." };
        var command = new Command("pull", "Pull an image from Wharf into the Docker daemon or a file.") { name, to, format, platform };
        CliContext.SetAction(command, async context =>
        {
            var reference = CliContext.ParseImage(context.Parse.GetValue(name));
            Platform? wanted = null;
            if (context.Parse.GetValue(platform) is { } platformText && !Platform.TryParse(platformText, out wanted))
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{platformText}' is not a platform; use os/arch[/variant], e.g. linux/arm64.");
            }
            var server = await context.ServerAsync(reference.Registry);
            var host = ServerAddress.HostKey(server);
            var tag = reference.Tag ?? (reference.Digest is null ? ImageReference.DefaultTag : null);
            var repoTag = tag is null ? null : $"{host}/{reference.Repository}:{tag}";
            var target = context.Parse.GetValue(to);
            var kind = context.Parse.GetValue(format)
                ?? (target is null ? "daemon" : target.EndsWith(".tar", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(target) ? "docker-archive" : "oci");

            DockerEngineClient? docker = null;
            if (target is null)
            {
                docker = DockerEngineClient.FromEnvironment();
                if (docker is null || !await docker.IsReachableAsync(TimeSpan.FromSeconds(3), context.CancellationToken))
                {
                    docker?.Dispose();
                    throw new WharfClientException(ClientErrorKind.InvalidInput,
                        "No Docker daemon is reachable; write the image to a file instead: --to DIR (OCI layout) or --to FILE.tar (docker-archive).");
                }
            }
            using var _ = docker;
            using var client = await context.RegistryAsync(server);
            await context.EnsureReachableAsync(client);
            var pulled = await TransferDisplay.RunAsync(context, async observer =>
            {
                var puller = new ImagePuller(client, observer);
                if (kind == "oci") return await puller.PullToLayoutAsync(reference.Repository, reference.ManifestReference, wanted, target!, tag, context.CancellationToken);
                var parent = target is null ? null : Path.GetDirectoryName(Path.GetFullPath(target));
                using var temp = TempFolder.Create(".wharf-pull-", parent);
                var layout = temp.Combine("layout");
                var image = await puller.PullToLayoutAsync(reference.Repository, reference.ManifestReference, wanted, layout, tag, context.CancellationToken);
                if (kind == "oci-archive")
                {
                    await OciArchiveWriter.WriteAsync(layout, target!, context.CancellationToken);
                }
                else
                {
                    var archive = target ?? temp.Combine("image.tar");
                    await DockerArchiveWriter.WriteAsync(layout, image.Image.Content, repoTag, archive, context.CancellationToken);
                    if (docker is not null)
                    {
                        foreach (var message in await docker.LoadImageAsync(archive, context.CancellationToken)) context.Say(message);
                    }
                }
                return image;
            });
            var locations = BlobLocations.Default();
            await locations.LoadAsync(context.CancellationToken);
            locations.Remember(host, reference.Repository, pulled.Parsed.RequiredBlobs.Select(b => b.Digest));
            await locations.SaveAsync(context.CancellationToken);
            var where = target ?? "the Docker daemon";
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["name"] = $"{host}/{reference.Repository}",
                    ["reference"] = reference.ManifestReference,
                    ["digest"] = pulled.Root.Digest.ToString(),
                    ["image_digest"] = pulled.Image.Digest.ToString(),
                    ["media_type"] = pulled.Image.MediaType,
                    ["platform"] = pulled.Platform?.ToString(),
                    ["written_to"] = where,
                    ["format"] = kind,
                    ["layout_digest"] = kind is "oci" or "oci-archive" ? pulled.LayoutManifest?.Digest.ToString() : null,
                    ["layout_media_type"] = kind is "oci" or "oci-archive" ? pulled.LayoutManifest?.MediaType : null,
                });
            }
            else
            {
                context.Say($"Pulled {host}/{reference.RepositoryAndReference}{(pulled.Platform is null ? "" : $" ({pulled.Platform})")} into {where}");
                context.Say($"digest: {pulled.Root.Digest}");
                if (kind is "oci" or "oci-archive" && pulled.Converted)
                {
                    context.Say($"written as OCI manifest {pulled.LayoutManifest!.Digest} (an OCI layout holds OCI manifests; skopeo converts the same way; every blob is unchanged)");
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
