using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Wharf.Storage.S3;

namespace Wharf.Testing.Services;

/// <summary>
/// The Ceph RADOS Gateway the S3 tests run against: the one <c>./scripts/test</c> started (its coordinates in
/// <c>WHARF_TEST_S3_URL</c>, <c>WHARF_TEST_S3_ACCESS_KEY</c>, <c>WHARF_TEST_S3_SECRET_KEY</c>), or else one this test
/// process starts with the same script (<c>scripts/services/ceph-rgw</c>) and stops when it exits. A gateway that cannot
/// be had fails the test: it is never skipped. Tests share one bucket per process and keep to their own prefix.
/// </summary>
public sealed class CephRgwService
{
    private static readonly SemaphoreSlim Starting = new(1, 1);
    private static CephRgwService? _instance;

    private readonly string? _ownedDir;
    private readonly string? _script;
    private int _prefixes;

    private CephRgwService(string url, string accessKey, string secretKey, string? ownedDir, string? script)
    {
        Url = url;
        AccessKey = accessKey;
        SecretKey = secretKey;
        _ownedDir = ownedDir;
        _script = script;
    }

    /// <summary>http://127.0.0.1:PORT</summary>
    public string Url { get; }

    public string AccessKey { get; }

    public string SecretKey { get; }

    /// <summary>The bucket this test process shares (created on first use).</summary>
    public string Bucket { get; private set; } = "";

    /// <summary>The gateway, started once per test process (about 15 s) unless the test script provides one.</summary>
    public static async Task<CephRgwService> GetAsync()
    {
        if (_instance is { } ready) return ready;
        await Starting.WaitAsync();
        try
        {
            if (_instance is not null) return _instance;
            var service = FromEnvironment() ?? await StartOwnAsync();
            service.Bucket = $"wharf-tests-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40];
            using (var s3 = service.CreateClient()) await s3.PutBucketAsync(new PutBucketRequest { BucketName = service.Bucket });
            _instance = service;
            return service;
        }
        finally
        {
            Starting.Release();
        }
    }

    /// <summary>A key prefix no other test uses, in <see cref="Bucket"/>.</summary>
    public string NewPrefix(string label = "t") =>
        $"{label}-{Interlocked.Increment(ref _prefixes)}-{Guid.NewGuid():N}/";

    /// <summary>Options for a store on this gateway, in <paramref name="bucket"/> (default: the shared one) under <paramref name="prefix"/>.</summary>
    public S3StorageOptions Options(string prefix, string? bucket = null, bool redirectDownloads = false) => new()
    {
        ServiceUrl = Url,
        Bucket = bucket ?? Bucket,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
        Prefix = prefix,
        RedirectDownloads = redirectDownloads,
    };

    /// <summary>The configuration arguments that make a Wharf server keep its blobs here.</summary>
    public string[] ServerArgs(string prefix, string? bucket = null) =>
    [
        "--Wharf:Storage:Type=S3",
        $"--Wharf:Storage:S3:ServiceUrl={Url}",
        $"--Wharf:Storage:S3:Bucket={bucket ?? Bucket}",
        $"--Wharf:Storage:S3:AccessKey={AccessKey}",
        $"--Wharf:Storage:S3:SecretKey={SecretKey}",
        $"--Wharf:Storage:S3:Prefix={prefix}",
    ];

    /// <summary>An SDK client for the gateway, for a test to look at the bucket itself.</summary>
    public AmazonS3Client CreateClient() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Url,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>Every key under <paramref name="prefix"/> in the shared bucket.</summary>
    public async Task<IReadOnlyList<string>> ListKeysAsync(string prefix)
    {
        using var s3 = CreateClient();
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix };
        while (true)
        {
            var page = await s3.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            if (page.IsTruncated != true) return keys;
            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <summary>The multipart uploads in progress under <paramref name="prefix"/>.</summary>
    public async Task<IReadOnlyList<string>> ListMultipartUploadsAsync(string prefix)
    {
        using var s3 = CreateClient();
        var page = await s3.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket, Prefix = prefix });
        return (page.MultipartUploads ?? []).Select(u => u.Key).ToList();
    }

    private static CephRgwService? FromEnvironment()
    {
        var url = Environment.GetEnvironmentVariable("WHARF_TEST_S3_URL");
        if (string.IsNullOrEmpty(url)) return null;
        var access = Environment.GetEnvironmentVariable("WHARF_TEST_S3_ACCESS_KEY");
        var secret = Environment.GetEnvironmentVariable("WHARF_TEST_S3_SECRET_KEY");
        if (string.IsNullOrEmpty(access) || string.IsNullOrEmpty(secret))
            throw new InvalidOperationException("WHARF_TEST_S3_URL is set without WHARF_TEST_S3_ACCESS_KEY and WHARF_TEST_S3_SECRET_KEY.");
        return new CephRgwService(url, access, secret, null, null);
    }

    private static async Task<CephRgwService> StartOwnAsync()
    {
        var script = FindScript();
        var result = await ExternalTool.RunAsync(script, ["start", "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            new ToolRunOptions { Timeout = TimeSpan.FromMinutes(10) });
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"Could not start a Ceph RADOS Gateway for the S3 tests.{Environment.NewLine}{result.Describe()}");
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var text = line.StartsWith("export ", StringComparison.Ordinal) ? line[7..] : line;
            var equals = text.IndexOf('=');
            if (equals > 0) values[text[..equals]] = text[(equals + 1)..];
        }
        var service = new CephRgwService(values["WHARF_TEST_S3_URL"], values["WHARF_TEST_S3_ACCESS_KEY"], values["WHARF_TEST_S3_SECRET_KEY"],
            values["WHARF_CEPH_RGW_DIR"], script);
        // The script's watchdog stops the daemons if this process dies; on a normal exit, stop them now.
        AppDomain.CurrentDomain.ProcessExit += (_, _) => service.Stop();
        return service;
    }

    private void Stop()
    {
        if (_ownedDir is null || _script is null || !Directory.Exists(_ownedDir)) return;
        using var stop = Process.Start(new ProcessStartInfo(_script, ["stop", _ownedDir]) { RedirectStandardOutput = true, RedirectStandardError = true });
        stop?.WaitForExit(TimeSpan.FromSeconds(60));
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scripts", "services", "ceph-rgw");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException("scripts/services/ceph-rgw not found above " + AppContext.BaseDirectory);
    }
}
