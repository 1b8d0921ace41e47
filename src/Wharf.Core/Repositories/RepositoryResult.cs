namespace Wharf.Core.Repositories;

public enum RepositoryProblem
{
    Invalid,
    NotFound,
    Unauthenticated,
    Forbidden,
    Conflict,
    Disabled,
}

/// <summary>Why a repository use case did not happen; the server maps it to an RFC 7807 problem.</summary>
public sealed record RepositoryError(RepositoryProblem Problem, string Detail);

/// <summary>A value or a <see cref="RepositoryError"/>.</summary>
public readonly record struct RepositoryResult<T>(T? Value, RepositoryError? Error)
{
    public bool IsOk => Error is null;

    public static implicit operator RepositoryResult<T>(T value) => new(value, null);

    public static implicit operator RepositoryResult<T>(RepositoryError error) => new(default, error);
}
