using System.Diagnostics.Metrics;

namespace Wharf.Core.Telemetry;

/// <summary>What a push or pull moved: an image manifest, an index (manifest list) or a blob.</summary>
public enum ContentKind
{
    Manifest,
    Index,
    Blob,
}

/// <summary>Why a login failed.</summary>
public enum LoginFailure
{
    /// <summary>Unknown user, wrong password, revoked or expired token.</summary>
    InvalidCredentials,
    /// <summary>Refused without checking: too many failures for the user or the address.</summary>
    RateLimited,
}

/// <summary>How one webhook delivery attempt ended.</summary>
public enum DeliveryResult
{
    /// <summary>The receiver answered 2xx.</summary>
    Delivered,
    /// <summary>The receiver failed or could not be reached; another attempt follows.</summary>
    Failed,
    /// <summary>The last allowed attempt failed; no more follow.</summary>
    GaveUp,
}

/// <summary>
/// Wharf's own instruments (meter <c>Wharf</c>, exported as <c>wharf_*</c>). Created from the host's
/// <see cref="IMeterFactory"/>, so two servers in one process (tests) keep their own figures. Recording is a no-op
/// when nothing listens (metrics off). Tags are small fixed sets, never repository or user names: the number of
/// series stays bounded whatever the registry holds.
/// </summary>
public sealed class WharfMetrics
{
    public const string MeterName = "Wharf";

    private readonly Counter<long> _pushes;
    private readonly Counter<long> _pulls;
    private readonly Counter<long> _uploadedBytes;
    private readonly Counter<long> _servedBytes;
    private readonly UpDownCounter<long> _uploadsInProgress;
    private readonly Counter<long> _buildsFinished;
    private readonly Histogram<double> _buildQueueWait;
    private readonly Counter<long> _gcRuns;
    private readonly Counter<long> _gcFreedBytes;
    private readonly Counter<long> _webhookDeliveries;
    private readonly Counter<long> _failedLogins;

    private static readonly KeyValuePair<string, object?> ManifestTag = new("kind", "manifest");
    private static readonly KeyValuePair<string, object?> IndexTag = new("kind", "index");
    private static readonly KeyValuePair<string, object?> BlobTag = new("kind", "blob");

    public WharfMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        Meter = meter;
        _pushes = meter.CreateCounter<long>("wharf.pushes", "{push}", "Manifests, indexes and blobs pushed (blobs: uploads committed and mounts).");
        _pulls = meter.CreateCounter<long>("wharf.pulls", "{pull}", "Manifests, indexes and blobs served by GET.");
        _uploadedBytes = meter.CreateCounter<long>("wharf.blob.uploaded", "By", "Bytes of blobs uploaded and verified.");
        _servedBytes = meter.CreateCounter<long>("wharf.blob.served", "By", "Bytes of blobs served (ranges count their length), counted as each response starts.");
        _uploadsInProgress = meter.CreateUpDownCounter<long>("wharf.uploads.active", "{upload}", "Blob upload requests streaming data right now.");
        _buildsFinished = meter.CreateCounter<long>("wharf.builds.finished", "{build}", "Builds that ended, by final state.");
        _buildQueueWait = meter.CreateHistogram<double>("wharf.build.queue.wait", "s", "Time a build waited in the queue before a worker started it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] });
        _gcRuns = meter.CreateCounter<long>("wharf.gc.runs", "{run}", "Garbage collections finished.");
        _gcFreedBytes = meter.CreateCounter<long>("wharf.gc.freed", "By", "Bytes of blobs garbage collection deleted.");
        _webhookDeliveries = meter.CreateCounter<long>("wharf.webhook.deliveries", "{delivery}", "Webhook delivery attempts, by result.");
        _failedLogins = meter.CreateCounter<long>("wharf.logins.failed", "{login}", "Logins refused, by reason.");
    }

    /// <summary>The meter, for observable instruments registered beside these (build queue gauges).</summary>
    public Meter Meter { get; }

    public void Pushed(ContentKind kind) => _pushes.Add(1, KindTag(kind));

    public void Pulled(ContentKind kind) => _pulls.Add(1, KindTag(kind));

    public void BlobUploaded(long bytes) => _uploadedBytes.Add(bytes);

    public void BlobServed(long bytes) => _servedBytes.Add(bytes);

    /// <summary>Counts an upload request as in progress until the returned value is disposed.</summary>
    public UploadInProgress UploadStarted()
    {
        _uploadsInProgress.Add(1);
        return new UploadInProgress(_uploadsInProgress);
    }

    /// <summary>Ends an upload request started with <see cref="UploadStarted"/>.</summary>
    public readonly struct UploadInProgress(UpDownCounter<long> counter) : IDisposable
    {
        public void Dispose() => counter?.Add(-1);
    }

    /// <summary>A build reached a final state (<c>succeeded</c>, <c>failed</c>, <c>cancelled</c>, <c>timed_out</c>).</summary>
    public void BuildFinished(string state) => _buildsFinished.Add(1, new KeyValuePair<string, object?>("state", state));

    public void BuildStarted(TimeSpan waited) => _buildQueueWait.Record(Math.Max(0, waited.TotalSeconds));

    public void GcRunFinished(bool dryRun, long bytesFreed)
    {
        var tag = new KeyValuePair<string, object?>("dry_run", dryRun ? "true" : "false");
        _gcRuns.Add(1, tag);
        if (!dryRun && bytesFreed > 0) _gcFreedBytes.Add(bytesFreed);
    }

    public void WebhookDelivery(DeliveryResult result) => _webhookDeliveries.Add(1, new KeyValuePair<string, object?>("result", result switch
    {
        DeliveryResult.Delivered => "delivered",
        DeliveryResult.Failed => "failed",
        _ => "gave_up",
    }));

    public void LoginFailed(LoginFailure reason) => _failedLogins.Add(1, new KeyValuePair<string, object?>("reason",
        reason == LoginFailure.RateLimited ? "rate_limited" : "invalid_credentials"));

    private static KeyValuePair<string, object?> KindTag(ContentKind kind) => kind switch
    {
        ContentKind.Manifest => ManifestTag,
        ContentKind.Index => IndexTag,
        _ => BlobTag,
    };
}
