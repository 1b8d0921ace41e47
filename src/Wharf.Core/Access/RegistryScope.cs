namespace Wharf.Core.Access;

/// <summary>Actions on a repository, as the Docker token scope grammar names them.</summary>
[Flags]
public enum RegistryActions
{
    None = 0,
    Pull = 1,
    Push = 2,
    Delete = 4,
}

/// <summary>
/// What a request needs: <c>repository:&lt;name&gt;:&lt;actions&gt;</c>, or <c>registry:catalog:*</c> when
/// <see cref="Repository"/> is null and <see cref="Catalog"/> is set. <see cref="Base"/> is the bare <c>/v2/</c> check.
/// </summary>
public sealed record RegistryScope(string? Repository, RegistryActions Actions, bool Catalog = false)
{
    public static readonly RegistryScope Base = new(null, RegistryActions.None);
    public static readonly RegistryScope CatalogScope = new(null, RegistryActions.None, Catalog: true);

    public static RegistryScope ForRepository(string repository, RegistryActions actions) => new(repository, actions);

    /// <summary>The scope as the token flow spells it (for the <c>WWW-Authenticate</c> challenge).</summary>
    public override string ToString()
    {
        if (Catalog) return "registry:catalog:*";
        if (Repository is null) return "";
        var actions = new List<string>(3);
        if (Actions.HasFlag(RegistryActions.Pull)) actions.Add("pull");
        if (Actions.HasFlag(RegistryActions.Push)) actions.Add("push");
        if (Actions.HasFlag(RegistryActions.Delete)) actions.Add("delete");
        return $"repository:{Repository}:{string.Join(',', actions)}";
    }
}
