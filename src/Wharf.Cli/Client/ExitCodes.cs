using Wharf.Client;

namespace Wharf.Cli.Client;

/// <summary>The exit codes of the client verbs (documented in docs/cli.md). Scripts may rely on them.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int InvalidInput = 2;
    public const int NotFound = 3;
    public const int Unauthorized = 4;
    public const int Unreachable = 5;

    public static int For(ClientErrorKind kind) => kind switch
    {
        ClientErrorKind.InvalidInput => InvalidInput,
        ClientErrorKind.NotFound => NotFound,
        ClientErrorKind.Unauthorized => Unauthorized,
        ClientErrorKind.Unreachable => Unreachable,
        _ => Failure,
    };
}
