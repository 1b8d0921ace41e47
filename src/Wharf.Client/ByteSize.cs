namespace Wharf.Client;

/// <summary>Sizes for people in one unit system, binary: B, KiB, MiB, GiB (as <c>docker images</c>' sizes are computed).</summary>
public static class ByteSize
{
    public static string Format(double bytes) => bytes switch
    {
        < 1024 => $"{bytes:0} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024.0 * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    };
}
