namespace Wharf.Core.Accounts;

public enum AccountErrorKind
{
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
}

/// <summary>An expected failure of an account use case (bad input, a taken name, no permission).</summary>
public sealed record AccountError(AccountErrorKind Kind, string Message, string? Field = null)
{
    public static AccountError Invalid(string message, string? field = null) => new(AccountErrorKind.Invalid, message, field);
    public static AccountError Forbidden(string message) => new(AccountErrorKind.Forbidden, message);
    public static AccountError NotFound(string message) => new(AccountErrorKind.NotFound, message);
    public static AccountError Conflict(string message, string? field = null) => new(AccountErrorKind.Conflict, message, field);
}

public readonly record struct AccountResult<T>(T? Value, AccountError? Error)
{
    public bool IsOk => Error is null;

    public static implicit operator AccountResult<T>(T value) => new(value, null);

    public static implicit operator AccountResult<T>(AccountError error) => new(default, error);
}
