namespace Wharf.Storage.FileSystem;

/// <summary>Options for the file-system blob store (<c>Wharf:Storage:Type=FileSystem</c>).</summary>
public sealed class FileSystemStorageOptions
{
    /// <summary>
    /// Root folder of the store; holds <c>blobs/</c>, <c>uploads/</c> and <c>tmp/</c>. Created when missing.
    /// Default: <c>data</c> (relative to the working directory); <c>Wharf:Storage:Path</c>, or the data folder.
    /// </summary>
    public string Path { get; set; } = "data";

    /// <summary>Throws when a value is unusable; called by the store's constructor.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
            throw new InvalidOperationException("Wharf:Storage:Path must name a folder.");
    }
}
