using Wharf.Core.Builds;

namespace Wharf.Builds.Worker;

/// <summary>The submit-time review: the same <see cref="Core.Builds.Dockerfiles.BuildOriginPolicy"/> the worker applies before the engine starts.</summary>
public sealed class BuildReview(RegistryTargets targets) : IBuildReview
{
    public string? Refusal(string dockerfile, IReadOnlyDictionary<string, string> buildArgs) =>
        targets.OriginPolicy().Review(dockerfile, buildArgs).Refusal;
}
