using System.CommandLine;
using System.Text.Json.Nodes;
using Wharf.Client;
using Wharf.Client.Credentials;
using Wharf.Client.Docker;
using Wharf.Client.Images;
using Wharf.Client.Registry;
using Wharf.Core.Manifests;

namespace Wharf.Cli.Client;

/// <summary><c>wharf push NAME:TAG [--from FILE|DIR]</c>: from the local Docker daemon, or from a file with no daemon at all.</summary>
internal static class PushCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME:TAG") { Description = "Where to push: namespace/repo:tag or host:port/namespace/repo:tag." };
        var from = new Option<string?>("--from", "-f") { Description = "Push this docker save archive, OCI layout folder or OCI archive instead of the Docker daemon's image." };
        var image = new Option<string?>("--image") { Description = "Which image of a docker save archive holding several: one of its tags (e.g. busybox:1), or @N for the Nth from 0." };
        var command = new Command("push", "Push an image to Wharf, from the Docker daemon or from a file.") { name, from, image };
        CliContext.SetAction(command, async context =>
        {
            var text = context.Parse.GetValue(name);
            var reference = CliContext.ParseImage(text);
            if (reference.Digest is not null) throw new WharfClientException(ClientErrorKind.InvalidInput, "Push to a tag (NAME:TAG), not to a digest.");
            var tag = reference.Tag ?? ImageReference.DefaultTag;
            var server = await context.ServerAsync(reference.Registry);
            var host = ServerAddress.HostKey(server);
            var path = context.Parse.GetValue(from);
            if (path is null && context.Parse.GetValue(image) is not null)
            {
                throw new WharfClientException(ClientErrorKind.InvalidInput, "--image picks an image of a docker save archive: give the archive with --from.");
            }

            using var client = await context.RegistryAsync(server);
            await context.EnsureReachableAsync(client);
            var locations = BlobLocations.Default();
            await locations.LoadAsync(context.CancellationToken);
            var result = await TransferDisplay.RunAsync(context, async observer =>
            {
                await using var source = path is not null
                    ? await ImageArchives.OpenAsync(path, tag, text, observer, context.CancellationToken, context.Parse.GetValue(image))
                    : await FromDaemonAsync(text!, $"{host}/{reference.Repository}:{tag}", observer, context.CancellationToken);
                var pusher = new ImagePusher(client, observer) { MountSource = d => locations.Find(host, d, reference.Repository) };
                var pushed = await pusher.PushAsync(source, reference.Repository, tag, context.CancellationToken);
                locations.Remember(host, reference.Repository, source.Manifests.SelectMany(m =>
                    ManifestParser.Parse(m.Content, null).Manifest?.RequiredBlobs.Select(b => b.Digest) ?? []));
                return (pushed, source.Description);
            });
            await locations.SaveAsync(context.CancellationToken);
            var (pushed, description) = result;
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["name"] = $"{host}/{reference.Repository}:{tag}",
                    ["digest"] = pushed.Digest.ToString(),
                    ["media_type"] = pushed.MediaType,
                    ["source"] = description,
                    ["blobs_uploaded"] = pushed.BlobsUploaded,
                    ["blobs_mounted"] = pushed.BlobsMounted,
                    ["blobs_skipped"] = pushed.BlobsSkipped,
                    ["bytes_uploaded"] = pushed.BytesUploaded,
                });
            }
            else
            {
                context.Say($"Pushed {host}/{reference.Repository}:{tag} from {description}");
                context.Say($"digest: {pushed.Digest}");
                context.Say($"{pushed.BlobsUploaded} blob(s) uploaded ({CliContext.Size(pushed.BytesUploaded)}), {pushed.BlobsSkipped} already there, {pushed.BlobsMounted} mounted");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<IImageSource> FromDaemonAsync(string given, string qualified, ITransferObserver observer, CancellationToken cancellationToken)
    {
        using var docker = DockerEngineClient.FromEnvironment();
        if (docker is null || !await docker.IsReachableAsync(TimeSpan.FromSeconds(3), cancellationToken))
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput,
                $"No Docker daemon is reachable ({Environment.GetEnvironmentVariable("DOCKER_HOST") ?? "unix:///var/run/docker.sock"}). " +
                "Push a file instead: 'docker save IMAGE -o image.tar' elsewhere, then 'wharf push NAME:TAG --from image.tar' (an OCI layout folder works too).");
        }
        string? local = null;
        foreach (var candidate in new[] { given, qualified }.Distinct())
        {
            if (await docker.ImageExistsAsync(candidate, cancellationToken))
            {
                local = candidate;
                break;
            }
        }
        if (local is null)
        {
            throw new WharfClientException(ClientErrorKind.NotFound, $"The Docker daemon has no image {given} (nor {qualified}); tag one with 'docker tag IMAGE {given}' first.");
        }
        var temp = TempFolder.Create("wharf-save-");
        try
        {
            var archive = temp.Combine("image.tar");
            var progress = observer.Start("save", $"docker save {local}", 0);
            await docker.SaveImageAsync(local, archive, progress, cancellationToken);
            observer.Complete("save", "saved");
            var source = await DockerArchiveSource.OpenAsync(archive, local, observer, cancellationToken, shownPath: $"docker save {local}");
            File.Delete(archive); // the layers are compressed into the source's own folder
            return new DaemonSource(source, temp, local);
        }
        catch
        {
            temp.Dispose();
            throw;
        }
    }

    private sealed class DaemonSource(IImageSource inner, TempFolder temp, string name) : IImageSource
    {
        public string Description => $"the Docker daemon's {name}";
        public IReadOnlyList<ImageManifest> Manifests => inner.Manifests;
        public Task<Stream> OpenBlobAsync(Wharf.Core.Digests.Digest digest, CancellationToken cancellationToken) => inner.OpenBlobAsync(digest, cancellationToken);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await temp.DisposeAsync();
        }
    }
}
