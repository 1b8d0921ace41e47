namespace Wharf.Server.Errors;

/// <summary>The surfaces whose clients expect different error shapes.</summary>
public enum ErrorSurface
{
    /// <summary><c>/api</c> and everything not listed below: RFC 7807 problem details.</summary>
    Api,

    /// <summary><c>/v2</c>: the OCI error envelope.</summary>
    Registry,

    /// <summary><c>/auth</c>: the OAuth 2 error shape, <c>{"error","error_description"}</c>.</summary>
    Token,

    /// <summary>The earlier build service's <c>/build-push</c>, <c>/build-push-status</c>, <c>/retry-build</c>: <c>{"status","message"}</c>.</summary>
    LegacyBuild,
}

public static class ErrorSurfaces
{
    public static ErrorSurface Of(PathString path)
    {
        if (path.StartsWithSegments("/v2")) return ErrorSurface.Registry;
        if (path.StartsWithSegments("/auth")) return ErrorSurface.Token;
        if (path.StartsWithSegments("/build-push") || path.StartsWithSegments("/build-push-status") || path.StartsWithSegments("/retry-build")) return ErrorSurface.LegacyBuild;
        return ErrorSurface.Api;
    }

    /// <summary>Whether the path is under <c>/api</c>.</summary>
    public static bool IsApi(PathString path) => path.StartsWithSegments("/api");
}
