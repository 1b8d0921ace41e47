namespace Wharf.Core;

/// <summary>
/// What a provider tells the operator at start-up, one labelled line each (e.g. <c>database</c>: <c>SQLite /srv/wharf.db</c>).
/// Every provider registers its own as a singleton; <c>wharf serve</c> prints them all, so a new provider needs no
/// change to the banner.
/// </summary>
public sealed record ProviderDescription(string Area, string Text);
