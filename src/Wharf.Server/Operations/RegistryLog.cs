using Wharf.Core.Access;

namespace Wharf.Server.Operations;

/// <summary>Log lines for changes to the registry's content (event ids 1100–1119).</summary>
public static partial class RegistryLog
{
    /// <summary>The caller's user name for a log line, or <c>anonymous</c>.</summary>
    public static string Actor(HttpContext context) => context.User.Username() ?? "anonymous";

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Pushed manifest {Reference} to {Repository} as {Digest} by {User}")]
    public static partial void ManifestPushed(ILogger logger, string repository, string reference, string digest, string user);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Deleted {Target} by {User}")]
    public static partial void Deleted(ILogger logger, string target, string user);
}
