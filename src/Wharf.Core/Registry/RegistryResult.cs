namespace Wharf.Core.Registry;

/// <summary>An expected outcome of a registry operation: a value, or the OCI error to answer with.</summary>
public readonly record struct RegistryResult<T>(T? Value, RegistryError? Error)
{
    public bool IsOk => Error is null;

    public static implicit operator RegistryResult<T>(T value) => new(value, null);
    public static implicit operator RegistryResult<T>(RegistryError error) => new(default, error);
}
