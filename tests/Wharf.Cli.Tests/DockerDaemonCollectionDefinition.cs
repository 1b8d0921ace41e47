using Wharf.Testing;

namespace Wharf.Cli.Tests;

/// <summary>Tests marked <c>[Collection(DockerDaemonCollection.Name)]</c> share one dockerd and run one after another.</summary>
[CollectionDefinition(DockerDaemonCollection.Name)]
public sealed class DockerDaemonCollectionDefinition : ICollectionFixture<DockerDaemonFixture>;
