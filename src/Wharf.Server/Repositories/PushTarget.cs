using Wharf.Core.Registry;
using Wharf.Core.Repositories;

namespace Wharf.Server.Repositories;

/// <summary>Whether a push may go to a repository: always when <see cref="RepositoryOptions.CreateOnPush"/> is on, else only into an existing one.</summary>
public static class PushTarget
{
    public static async ValueTask<bool> MayPushAsync(HttpContext context, string repository, CancellationToken cancellationToken)
    {
        var options = context.RequestServices.GetService<RepositoryOptions>();
        if (options is null || options.CreateOnPush) return true;
        return await context.RequestServices.GetRequiredService<IRegistryStore>().RepositoryExistsAsync(repository, cancellationToken);
    }
}
