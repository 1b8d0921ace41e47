namespace Wharf.Server.Tests.RealClients;

internal static class TestTimeout
{
    /// <summary>A token that cancels a stuck real-client test (and kills its tools) after <paramref name="minutes"/> minutes.</summary>
    public static CancellationTokenSource Start(double minutes = 2) => new(TimeSpan.FromMinutes(minutes));
}
