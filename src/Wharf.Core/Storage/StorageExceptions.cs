namespace Wharf.Core.Storage;

/// <summary>Storage could not do what was asked for a reason that is not the request's fault. The API answers in its protocol's error format.</summary>
public abstract class StorageException(string message, Exception? inner) : Exception(message, inner);

/// <summary>The disk or the bucket is full (or a quota of the storage server is reached). The data of the failed write has been removed.</summary>
public sealed class StorageFullException(string message, Exception? inner = null) : StorageException(message, inner);

/// <summary>The storage server failed or could not be reached.</summary>
public sealed class StorageUnavailableException(string message, Exception? inner = null) : StorageException(message, inner);
