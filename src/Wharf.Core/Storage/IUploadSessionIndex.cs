namespace Wharf.Core.Storage;

/// <summary>Who opened an upload session: the signed-in user (null when anonymous) and the client's address (null when unknown).</summary>
public sealed record UploadOpener(string? User, string? Address);

/// <summary>
/// How many upload sessions may be open at once per user and per client address (0: no limit), and how long a session
/// without activity still counts as open (the upload idle timeout: after it the session expires).
/// </summary>
public sealed record UploadSessionLimits(int PerUser, int PerAddress, TimeSpan IdleTimeout);

/// <summary>Open sessions of one user and of one address.</summary>
public readonly record struct UploadSessionCounts(int ByUser, int ByAddress)
{
    /// <summary>Which limit, if any, a further session would break.</summary>
    public UploadAdmission Judge(UploadOpener opener, UploadSessionLimits limits) =>
        opener.User is not null && limits.PerUser > 0 && ByUser >= limits.PerUser ? UploadAdmission.UserAtLimit
        : opener.Address is not null && limits.PerAddress > 0 && ByAddress >= limits.PerAddress ? UploadAdmission.AddressAtLimit
        : UploadAdmission.Admitted;
}

/// <summary>Whether a new upload session was admitted, and if not, which limit refused it.</summary>
public enum UploadAdmission
{
    Admitted,
    UserAtLimit,
    AddressAtLimit,
}

/// <summary>
/// The metadata database's record of open upload sessions: who opened each, from where, and when it was last used.
/// The limits on open sessions are counted here, not in a node's memory, so they hold across every node of a
/// scale-out set. The session's bytes live in the <see cref="IUploadStore"/>; this holds only the bookkeeping.
/// </summary>
public interface IUploadSessionIndex
{
    /// <summary>
    /// Records session <paramref name="id"/> as opened by <paramref name="opener"/> at <paramref name="now"/>, unless
    /// that user or that address already has as many sessions open (used within the idle timeout) as the limits allow;
    /// then nothing is recorded. The check and the insert are one atomic step, also between nodes.
    /// </summary>
    Task<UploadAdmission> AdmitAsync(Guid id, UploadOpener opener, UploadSessionLimits limits, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Marks the session as used at <paramref name="now"/> (a chunk was appended); nothing when it is not recorded.</summary>
    Task TouchAsync(Guid id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Forgets the session (committed or cancelled); false when it was not recorded.</summary>
    Task<bool> RemoveAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Forgets every session last used before <paramref name="usedBefore"/> (expired); returns how many.</summary>
    Task<int> RemoveIdleAsync(DateTimeOffset usedBefore, CancellationToken cancellationToken);

    /// <summary>
    /// How many sessions the opener's user and the opener's address each have open: recorded and used since
    /// <paramref name="usedSince"/> (0 for a null user or address).
    /// </summary>
    Task<UploadSessionCounts> CountOpenAsync(UploadOpener opener, DateTimeOffset usedSince, CancellationToken cancellationToken);
}
