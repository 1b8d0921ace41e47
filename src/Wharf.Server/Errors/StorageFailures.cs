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

/// <summary>Storage failures outside <c>/v2</c> (which answers them in the OCI envelope itself) as problem details.</summary>
public static partial class StorageFailureProblems
{
    public static IApplicationBuilder UseStorageFailureProblems(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (!context.Request.Path.StartsWithSegments("/v2") && !context.Response.HasStarted
                                  && StorageFailures.Classify(e) is var kind && kind != StorageFailures.Kind.None)
        {
            Log.StorageFailed(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StorageFailureProblems)), e, context.Request.Method, context.Request.Path);
            var (status, message) = StorageFailures.Describe(kind, e);
            if (status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "10";
            await TypedResults.Problem(message, statusCode: status, title: kind == StorageFailures.Kind.Full ? "Storage is full" : "Storage is unavailable").ExecuteAsync(context);
        }
    });

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Storage failed during {Method} {Path}")]
        public static partial void StorageFailed(ILogger logger, Exception exception, string method, PathString path);
    }
}
