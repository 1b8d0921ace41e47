using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Wharf.Testing;

/// <summary>The requests a <see cref="WharfTestServer"/> received ("METHOD /path"), for tests that count them.</summary>
public sealed class RequestLog
{
    private readonly ConcurrentQueue<(string Method, string Path)> _entries = new();

    public IReadOnlyList<(string Method, string Path)> Entries => [.. _entries];

    public void Clear() => _entries.Clear();

    /// <summary>Requests that carry blob bytes: PATCH and PUT on /v2/…/blobs/uploads/…, and POST of a single-request upload with a digest.</summary>
    public int BlobUploadRequests => Entries.Count(e => e.Path.Contains("/blobs/uploads/", StringComparison.Ordinal) && e.Method is "PATCH" or "PUT");

    public int Count(string method, string pathFragment) => Entries.Count(e => e.Method == method && e.Path.Contains(pathFragment, StringComparison.Ordinal));

    internal sealed class Filter(RequestLog log) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                log._entries.Enqueue((context.Request.Method, context.Request.Path.Value ?? ""));
                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
