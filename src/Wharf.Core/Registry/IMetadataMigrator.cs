namespace Wharf.Core.Registry;

/// <summary>Applies the numbered schema migrations of a metadata store provider.</summary>
public interface IMetadataMigrator
{
    /// <summary>Applies every migration not yet applied, in order; returns how many it applied.</summary>
    Task<int> MigrateAsync(CancellationToken cancellationToken);
}
