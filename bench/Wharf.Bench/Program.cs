using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wharf.Bench;

// Benchmark driver for bench/run. Each command prints one JSON document on stdout; progress goes to stderr.
//   free-port
//   gen-blob  --out FILE --size BYTES --seed N
//   gen-image --dir DIR --layers N --size BYTES --seed N [--tag T]
//   seed-manifest --registry URL --repo R --tag T --work DIR
//   blobs     --registries NAME=URL,NAME=URL --repo R --mono F1,F2,.. --chunked F1,F2,.. --chunk-size BYTES [--sync true]
//   memory    --registry URL --repo R --pid PID --file F [--sample-ms 20]
//   report    --results FILE [--markdown OUT]
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: Wharf.Bench <free-port|gen-blob|gen-image|seed-manifest|blobs|cross-node|memory|report> [--key value]...");
    return 2;
}

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i < args.Length; i++)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
    {
        Console.Error.WriteLine($"bad argument: {args[i]}");
        return 2;
    }

    options[args[i][2..]] = args[++i];
}

string Opt(string key) => options.TryGetValue(key, out var v) ? v : throw new BenchException($"missing --{key}");
string OptOr(string key, string fallback) => options.TryGetValue(key, out var v) ? v : fallback;
long Long(string key) => long.Parse(Opt(key), CultureInfo.InvariantCulture);
List<BlobFile> Files(string key) => Opt(key).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(BlobFile.Load).ToList();
RegistryClient Client() => new(new Uri(Opt("registry")), TimeSpan.FromMinutes(15));

// Every command is bounded: nothing here runs longer than this.
using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(double.Parse(OptOr("timeout-min", "30"), CultureInfo.InvariantCulture)));
var ct = cts.Token;
var json = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

try
{
    JsonNode result;
    switch (args[0])
    {
        case "free-port":
            {
                using var l = new TcpListener(IPAddress.Loopback, 0);
                l.Start();
                Console.WriteLine(((IPEndPoint)l.LocalEndpoint).Port);
                return 0;
            }

        case "gen-blob":
            {
                var blob = DataGen.Blob(Opt("out"), Long("size"), (ulong)Long("seed"));
                result = new JsonObject { ["path"] = blob.Path, ["size"] = blob.Size, ["digest"] = blob.Digest };
                break;
            }

        case "gen-image":
            result = DataGen.Image(Opt("dir"), (int)Long("layers"), Long("size"), (ulong)Long("seed"), OptOr("tag", "latest"));
            break;

        case "seed-manifest":
            {
                using var client = Client();
                result = await Workloads.SeedManifestAsync(client, Opt("repo"), Opt("tag"), Opt("work"), ct);
                break;
            }

        case "blobs":
            {
                List<(string Name, RegistryClient Client)> Targets(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries)
                    .Select(pair => pair.Split('=', 2))
                    .Select(kv => (Name: kv[0], Client: new RegistryClient(new Uri(kv[1]), TimeSpan.FromMinutes(15))))
                    .ToList();
                var targets = Targets(Opt("registries"));
                var ceilings = Targets(OptOr("ceilings", ""));
                try
                {
                    result = await Workloads.BlobsAsync(targets, Opt("repo"), Files("mono"), Files("chunked"), (int)Long("chunk-size"),
                        bool.Parse(OptOr("sync", "true")), ct, ceilings);
                }
                finally
                {
                    targets.ForEach(t => t.Client.Dispose());
                    ceilings.ForEach(t => t.Client.Dispose());
                }

                break;
            }

        case "cross-node":
            {
                using var nodeA = Client();
                result = await Workloads.CrossNodeAsync(nodeA, new Uri(Opt("other-node")), Opt("repo"), Files("chunked"), (int)Long("chunk-size"), ct);
                break;
            }

        case "memory":
            {
                using var client = Client();
                result = await Workloads.MemoryAsync(client, Opt("repo"), BlobFile.Load(Opt("file")), (int)Long("pid"),
                    (int)long.Parse(OptOr("sample-ms", "20"), CultureInfo.InvariantCulture), ct);
                break;
            }

        case "report":
            {
                var path = Opt("results");
                var results = JsonNode.Parse(await File.ReadAllTextAsync(path, ct)) ?? throw new BenchException("empty results");
                Console.Write(Report.Table(results, markdown: false));
                Console.Write(Report.ClientTable(results, markdown: false));
                if (options.TryGetValue("markdown", out var md))
                {
                    await File.WriteAllTextAsync(md, Report.Markdown(results, OptOr("json-label", path)), ct);
                    Console.Error.WriteLine($"wrote {md}");
                }

                return 0;
            }

        default:
            Console.Error.WriteLine($"unknown command {args[0]}");
            return 2;
    }

    Console.WriteLine(result.ToJsonString(json));
    return 0;
}
catch (Exception e) when (e is BenchException or HttpRequestException or IOException or OperationCanceledException)
{
    Console.Error.WriteLine($"Wharf.Bench {args[0]}: {e.GetType().Name}: {e.Message}");
    return 1;
}
