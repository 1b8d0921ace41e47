namespace Wharf.Core.Registry;

/// <summary>Applies the numbered schema migrations of a metadata store provider.</summary>
public interface IMetadataMigrator
{
    /// <summary>Applies every migration not yet applied, in order; returns how many it applied.</summary>
    Task<int> MigrateAsync(CancellationToken cancellationToken);

    /// <summary>The names of the migrations this version has that the database has not applied yet, in order.</summary>
    Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The metadata store cannot be used: it is unreachable, refuses the credentials, the database is missing, or its schema
/// is behind. The message says which, in words an operator can act on; start-up stops with it.
/// </summary>
public sealed class MetadataStoreUnavailableException(string message, Exception? innerException = null) : Exception(message, innerException);
