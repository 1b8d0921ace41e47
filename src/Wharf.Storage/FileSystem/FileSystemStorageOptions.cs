namespace Wharf.Storage.FileSystem;

/// <summary>Options for the filesystem blob store (configuration section <c>Storage</c> with <c>Type=FileSystem</c>).</summary>
public sealed class FileSystemStorageOptions
{
    /// <summary>
    /// Root folder of the store; holds <c>blobs/</c>, <c>uploads/</c> and <c>tmp/</c>. Created when missing.
    /// Default: <c>data</c> (relative to the working directory).
    /// </summary>
    public string Path { get; set; } = "data";

    /// <summary>An upload session with no activity for this long is removed. Default: 24 hours.</summary>
    public TimeSpan UploadIdleTimeout { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often <see cref="UploadExpiryService"/> looks for idle sessions. Default: 1 minute.</summary>
    public TimeSpan UploadExpiryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Throws when a value is unusable; called by the store's constructor.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            throw new InvalidOperationException("Storage:Path must name a folder.");
        if (UploadIdleTimeout <= TimeSpan.Zero)
            throw new InvalidOperationException("Storage:UploadIdleTimeout must be positive.");
        if (UploadExpiryInterval <= TimeSpan.Zero)
            throw new InvalidOperationException("Storage:UploadExpiryInterval must be positive.");
    }
}
