namespace Wharf.Core;

/// <summary>
/// Tags on the framework's health check registrations (one per provider): <c>/readyz</c> runs those tagged
/// <see cref="Ready"/>, start-up runs those tagged <see cref="Startup"/> before listening and stops with their messages,
/// and <see cref="Provider"/> names the provider in <c>/readyz</c>'s answer.
/// </summary>
public static class HealthTags
{
    public const string Ready = "ready";
    public const string Startup = "startup";
    public const string ProviderPrefix = "provider:";

    public static string Provider(string name) => ProviderPrefix + name;
}
