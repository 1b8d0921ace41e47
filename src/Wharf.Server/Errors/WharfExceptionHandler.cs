using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Wharf.Core.Registry;

namespace Wharf.Server.Errors;

/// <summary>
/// The exception handler of every surface: an exception that escapes a handler (a bug, a failed disk or database)
/// becomes the error shape the surface's clients read (see <see cref="ErrorSurface"/>), never an empty 500. A request
/// the server could not read (<see cref="BadHttpRequestException"/>: a body over its limit, a malformed form) keeps
/// its 4xx status. A full disk or bucket answers 507 and a storage server that is down 503 (<see cref="StorageFailures"/>). A client that hung up is logged at Debug and answered nothing.
/// </summary>
public sealed partial class WharfExceptionHandler(ILogger<WharfExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            Log.ClientGone(logger, context.Request.Method, context.Request.Path);
            return true;
        }
        int status;
        string message;
        if (exception is BadHttpRequestException bad)
        {
            status = bad.StatusCode;
            message = bad.Message;
            Log.BadRequest(logger, context.Request.Method, context.Request.Path, bad.Message);
        }
        else if (StorageFailures.Classify(exception) is var kind && kind != StorageFailures.Kind.None)
        {
            (status, message) = StorageFailures.Describe(kind, exception);
            Log.StorageFailed(logger, exception, context.Request.Method, context.Request.Path);
            if (!context.Response.HasStarted && status == StatusCodes.Status503ServiceUnavailable) context.Response.Headers.RetryAfter = "10";
        }
        else
        {
            status = StatusCodes.Status500InternalServerError;
            message = "The server failed to answer this request; the failure is logged.";
            Log.Failed(logger, exception, context.Request.Method, context.Request.Path);
        }
        if (context.Response.HasStarted) return true;
        var retryAfter = context.Response.Headers.RetryAfter;
        context.Response.Clear();
        if (retryAfter.Count > 0) context.Response.Headers.RetryAfter = retryAfter;
        await WriteAsync(context, status, message);
        return true;
    }

    /// <summary>Writes an error in the shape of the request's surface.</summary>
    public static async Task WriteAsync(HttpContext context, int status, string message)
    {
        switch (ErrorSurfaces.Of(context.Request.Path))
        {
            case ErrorSurface.Registry:
                context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
                var code = status == StatusCodes.Status413PayloadTooLarge ? RegistryErrorCode.SizeInvalid
                    : status < 500 ? RegistryErrorCode.Unsupported : RegistryErrorCode.Unknown;
                await OciErrors.WriteAsync(context.Response, new RegistryError(code, message, status), CancellationToken.None);
                break;
            case ErrorSurface.Token:
                await OAuthErrors.WriteAsync(context, status, status < 500 ? "invalid_request" : "server_error", message);
                break;
            case ErrorSurface.LegacyBuild:
                context.Response.StatusCode = status;
                var body = JsonSerializer.SerializeToUtf8Bytes(new LegacyError(status, message), ErrorsJsonContext.Default.LegacyError);
                context.Response.ContentType = "application/json; charset=utf-8";
                context.Response.ContentLength = body.Length;
                await context.Response.Body.WriteAsync(body, CancellationToken.None);
                break;
            default:
                await ApiProblems.Status(status, message).ExecuteAsync(context);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 700, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
        public static partial void Failed(ILogger logger, Exception exception, string method, PathString path);

        [LoggerMessage(EventId = 701, Level = LogLevel.Debug, Message = "{Method} {Path}: unreadable request: {Reason}")]
        public static partial void BadRequest(ILogger logger, string method, PathString path, string reason);

        [LoggerMessage(EventId = 703, Level = LogLevel.Error, Message = "Storage failed during {Method} {Path}")]
        public static partial void StorageFailed(ILogger logger, Exception exception, string method, PathString path);

        [LoggerMessage(EventId = 702, Level = LogLevel.Debug, Message = "Client went away during {Method} {Path}")]
        public static partial void ClientGone(ILogger logger, string method, PathString path);
    }
}
