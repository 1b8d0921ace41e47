namespace Wharf.Core.Repositories;

/// <summary>
/// Says whether a README can be shown: the server's Markdown renderer checks what it would have to render (how deeply
/// it nests) before a README is stored, so a stored README never breaks a page that shows it.
/// </summary>
public interface IReadmeCheck
{
    /// <summary>Why <paramref name="readme"/> cannot be stored, or null when it can.</summary>
    string? Problem(string readme);
}
