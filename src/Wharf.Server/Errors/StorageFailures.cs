using Microsoft.Data.Sqlite;
using Wharf.Core.Storage;

namespace Wharf.Server.Errors;

/// <summary>
/// Which failures are storage's, not the request's and not a bug: a full disk or bucket (507) and a storage server that
/// is down (503). The API answers them in its protocol's error format instead of a bare 500.
/// </summary>
public static class StorageFailures
{
    private const int NoSpace = 28;        // ENOSPC
    private const int QuotaExceeded = 122; // EDQUOT
    private const int SqliteFull = 13;     // SQLITE_FULL

    public enum Kind
    {
        None,
        Full,
        Unavailable,
    }

    /// <summary>What kind of storage failure <paramref name="exception"/> (or one of its causes) is.</summary>
    public static Kind Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case StorageFullException:
                    return Kind.Full;
                case StorageUnavailableException:
                    return Kind.Unavailable;
                case IOException io when io.HResult is NoSpace or QuotaExceeded: // .NET on Unix gives the errno as HResult
                    return Kind.Full;
                case SqliteException sqlite when sqlite.SqliteErrorCode == SqliteFull:
                    return Kind.Full;
            }
        }
        return Kind.None;
    }

    /// <summary>The sentence to tell the client, with the status to send it with.</summary>
    public static (int Status, string Message) Describe(Kind kind, Exception exception) => kind switch
    {
        Kind.Full => (StatusCodes.Status507InsufficientStorage, "The registry's storage is full; nothing of this request was kept. Try again once an operator has made room."),
        _ => (StatusCodes.Status503ServiceUnavailable, "The registry's storage is unavailable right now; try again later."),
    };
}
