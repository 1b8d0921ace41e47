using System.Net;
using System.Net.Sockets;

namespace Wharf.Testing;

public static class FreePort
{
    /// <summary>
    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
    /// Another process may take it before it is used: callers that start a server on it retry on a bind failure.
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
