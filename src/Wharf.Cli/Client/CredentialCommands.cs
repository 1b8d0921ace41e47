using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;

namespace Wharf.Cli.Client;

/// <summary>
/// <c>wharf credential add|list|rm</c>: credentials for external registries that builds push to (<c>/api/v1/registry-credentials</c>),
/// stored encrypted on the server and never shown again.
/// </summary>
internal static class CredentialCommands
{
    public static Command Create()
    {
        var command = new Command("credential", "Credentials of external registries, for builds that push there (stored encrypted, never shown).");
        var host = new Argument<string>("HOST") { Description = "The registry, e.g. registry.example.com or 127.0.0.1:5001." };
        var user = new Option<string?>("--username", "-u") { Description = "User name at that registry (asked for on a terminal when missing)." };
        var stdin = new Option<bool>("--password-stdin") { Description = "Read the password or token from standard input." };
        var add = new Command("add", "Store (or replace) the credential for a registry.") { host, user, stdin };
        CliContext.SetAction(add, async context =>
        {
            var registry = context.Parse.GetValue(host)!.Trim();
            var username = AccountCommands.AskUser(context, context.Parse.GetValue(user));
            var secret = await AccountCommands.AskSecretAsync(context, context.Parse.GetValue(stdin), confirm: false);
            using var api = await ApiAsync(context);
            var stored = await api.AddRegistryCredentialAsync(registry, username, secret, context.CancellationToken);
            if (context.Json) context.WriteJson(CredentialJson(stored));
            else context.Say($"Stored the credential of {stored.Username} for {stored.Host} ({stored.Id}); builds tagged {stored.Host}/… push with it.");
            return ExitCodes.Ok;
        });
        var list = new Command("list", "List your stored registry credentials (host, user name, id).");
        CliContext.SetAction(list, async context =>
        {
            using var api = await ApiAsync(context);
            var credentials = await api.ListRegistryCredentialsAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject { ["credentials"] = new JsonArray([.. credentials.Select(c => (JsonNode)CredentialJson(c))]) });
                return ExitCodes.Ok;
            }
            if (credentials.Count == 0)
            {
                context.Say("No registry credentials; add one with 'wharf credential add HOST -u USER'.");
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("ID").NoWrap(), new TableColumn("HOST").NoWrap(), new TableColumn("USERNAME"), new TableColumn("CREATED").NoWrap());
            foreach (var c in credentials)
            {
                table.AddRow(Markup.Escape(c.Id ?? ""), Markup.Escape(c.Host ?? ""), Markup.Escape(c.Username ?? ""), c.CreatedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "");
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        var which = new Argument<string>("ID|HOST") { Description = "The credential's id, or the registry it is for." };
        var remove = new Command("rm", "Remove a stored registry credential.") { which };
        CliContext.SetAction(remove, async context =>
        {
            var given = context.Parse.GetValue(which)!.Trim();
            using var api = await ApiAsync(context);
            var id = given;
            if (!Guid.TryParse(given, out _))
            {
                var byHost = (await api.ListRegistryCredentialsAsync(context.CancellationToken)).Where(c => string.Equals(c.Host, given, StringComparison.OrdinalIgnoreCase)).ToList();
                id = byHost.Count switch
                {
                    0 => throw new WharfClientException(ClientErrorKind.NotFound, $"No registry credential for {given}; 'wharf credential list' shows them."),
                    1 => byHost[0].Id!,
                    _ => throw new WharfClientException(ClientErrorKind.InvalidInput, $"Several credentials are for {given}: remove one by its id ('wharf credential list')."),
                };
            }
            await api.RemoveRegistryCredentialAsync(id, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["id"] = id, ["removed"] = true });
            else context.Say($"Removed registry credential {id}.");
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(add);
        command.Subcommands.Add(list);
        command.Subcommands.Add(remove);
        return command;
    }

    private static async Task<ApiClient> ApiAsync(CliContext context) => await context.ApiAsync(await context.ServerAsync());

    private static JsonObject CredentialJson(RegistryCredentialInfo c) => new()
    {
        ["id"] = c.Id,
        ["host"] = c.Host,
        ["username"] = c.Username,
        ["created_at"] = c.CreatedAt,
    };
}
