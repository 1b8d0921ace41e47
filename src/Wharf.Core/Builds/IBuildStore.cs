namespace Wharf.Core.Builds;

/// <summary>
/// Builds, their logs and the queue, in the metadata store. The queue is the <c>queued</c> builds, oldest first;
/// a worker takes one with <see cref="LeaseNextAsync"/> and keeps it with <see cref="RenewLeaseAsync"/>; a build
/// whose lease lapses (its worker died) can be leased again.
/// </summary>
public interface IBuildStore
{
    Task CreateAsync(BuildRecord build, CancellationToken cancellationToken);

    Task<BuildRecord?> GetAsync(Guid id, CancellationToken cancellationToken);

    Task<IReadOnlyList<BuildRecord>> ListAsync(BuildFilter filter, CancellationToken cancellationToken);

    /// <summary>
    /// In one write transaction: ends queued builds older than <paramref name="queueTimeToLive"/> as timed out, then
    /// takes the oldest queued build (or a running one whose lease lapsed) whose namespace runs fewer than
    /// <paramref name="perNamespaceLimit"/> builds, marks it running under <paramref name="workerId"/> until
    /// now + <paramref name="leaseDuration"/>, counts an attempt and returns it. Null when there is none.
    /// </summary>
    Task<BuildRecord?> LeaseNextAsync(string workerId, TimeSpan leaseDuration, TimeSpan queueTimeToLive, int perNamespaceLimit, CancellationToken cancellationToken);

    /// <summary>
    /// Extends the lease. Returns the build as stored, or null when <paramref name="workerId"/> no longer holds it: another
    /// worker took it, or it lapsed (a lapsed lease is never renewed, so its worker stops instead of running beside the
    /// next one). The caller checks <see cref="BuildRecord.CancelRequested"/>.
    /// </summary>
    Task<BuildRecord?> RenewLeaseAsync(Guid id, string workerId, TimeSpan leaseDuration, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the worker's progress (phases, counters, error, digest, state; the lease is cleared when the state is
    /// final) if <paramref name="workerId"/> still holds the lease. False when it does not.
    /// </summary>
    Task<bool> UpdateAsync(BuildRecord build, string workerId, CancellationToken cancellationToken);

    /// <summary>Gives a running build back to the queue (the worker is stopping); it keeps its place and its phases.</summary>
    Task ReleaseAsync(Guid id, string workerId, CancellationToken cancellationToken);

    /// <summary>Puts a finished build back in the queue with the given phases (retry). False unless it was finished.</summary>
    Task<bool> RequeueAsync(Guid id, PhaseStatus buildStatus, CancellationToken cancellationToken);

    /// <summary>
    /// Cancels: a queued build ends as cancelled at once; a running one gets <see cref="BuildRecord.CancelRequested"/>
    /// for its worker. Returns the build as it is afterwards, or null when unknown.
    /// </summary>
    Task<BuildRecord?> CancelAsync(Guid id, CancellationToken cancellationToken);

    Task AppendLogAsync(Guid id, IReadOnlyList<BuildLogLine> lines, CancellationToken cancellationToken);

    /// <summary>Log lines with a sequence number above <paramref name="afterSequence"/>, in order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<BuildLogLine>> ReadLogAsync(Guid id, long afterSequence, int limit, CancellationToken cancellationToken);

    /// <summary>How many builds are queued and how many are running, store-wide (for the build queue gauges).</summary>
    Task<BuildQueueCounts> CountActiveAsync(CancellationToken cancellationToken);

    /// <summary>The highest log sequence number stored for a build (0 when none).</summary>
    Task<long> LastLogSequenceAsync(Guid id, CancellationToken cancellationToken);
}

/// <summary>Builds waiting in the queue and builds running now.</summary>
public readonly record struct BuildQueueCounts(long Queued, long Running);
