using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;

namespace Wharf.Cli.Client;

/// <summary>
/// <c>wharf user list|disable|enable|unlock|delete</c>: the administrators' verbs, through the server's REST API with the
/// stored login (an administrator's password session or a token with the <c>admin</c> scope).
/// </summary>
internal static class UserAdminCommands
{
    public static void AddTo(Command user)
    {
        var list = new Command("list", "List the users (administrators).");
        CliContext.SetAction(list, async context =>
        {
            using var api = await context.ApiAsync(await context.ServerAsync());
            var users = await api.ListUsersAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonArray([.. users.Select(u => (JsonNode)UserJson(u))]));
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("USER"), new TableColumn("ADMIN"), new TableColumn("STATE"), new TableColumn("EMAIL"), new TableColumn("CREATED"));
            foreach (var u in users)
            {
                table.AddRow(Markup.Escape(u.Username ?? ""), u.IsAdmin ? "yes" : "", State(u), Markup.Escape(u.Email ?? ""),
                    u.CreatedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "");
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        user.Subcommands.Add(list);
        user.Subcommands.Add(Change("disable", "Disable a user: no sign-in, and none of their tokens, sessions or logins work (administrators).",
            (api, name, ct) => api.SetUserDisabledAsync(name, true, ct), u => $"User {u.Username} disabled."));
        user.Subcommands.Add(Change("enable", "Enable a disabled user again; sessions that disabling ended stay ended (administrators).",
            (api, name, ct) => api.SetUserDisabledAsync(name, false, ct), u => $"User {u.Username} enabled."));
        user.Subcommands.Add(Change("unlock", "Clear a user's failed-login limits, from every address (administrators).",
            (api, name, ct) => api.UnlockUserAsync(name, ct), u => $"User {u.Username} may sign in again from every address."));

        var name = new Argument<string>("NAME") { Description = "The user name." };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation." };
        var delete = new Command("delete", "Delete a user with their tokens, sessions and memberships; their repositories are kept (administrators).") { name, yes };
        CliContext.SetAction(delete, async context =>
        {
            var username = context.Parse.GetValue(name)!;
            if (!context.Parse.GetValue(yes))
            {
                if (!context.Interactive || Console.IsInputRedirected)
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, $"Deleting '{username}' cannot be undone: pass --yes (no terminal to ask on).");
                }
                if (!context.Terminal.Confirm($"Delete the user '{Markup.Escape(username)}'? This cannot be undone.", defaultValue: false)) return ExitCodes.Failure;
            }
            using var api = await context.ApiAsync(await context.ServerAsync());
            var deleted = await api.DeleteUserAsync(username, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["username"] = deleted.Username,
                    ["repositories_kept"] = deleted.RepositoriesKept,
                    ["organizations_without_owner"] = new JsonArray([.. (deleted.OrganizationsWithoutOwner ?? []).Select(o => (JsonNode)o)]),
                    ["message"] = deleted.Message,
                });
                return ExitCodes.Ok;
            }
            context.Say(deleted.Message ?? $"Deleted '{username}'.");
            if (deleted.OrganizationsWithoutOwner is { Count: > 0 } orphans)
            {
                context.Say($"These organizations have no owner now; add one with the organizations API: {string.Join(", ", orphans)}");
            }
            return ExitCodes.Ok;
        });
        user.Subcommands.Add(delete);
    }

    private static Command Change(string verb, string description, Func<ApiClient, string, CancellationToken, Task<AdminUserInfo>> act, Func<AdminUserInfo, string> said)
    {
        var name = new Argument<string>("NAME") { Description = "The user name." };
        var command = new Command(verb, description) { name };
        CliContext.SetAction(command, async context =>
        {
            using var api = await context.ApiAsync(await context.ServerAsync());
            var changed = await act(api, context.Parse.GetValue(name)!, context.CancellationToken);
            if (context.Json) context.WriteJson(UserJson(changed));
            else context.Say(said(changed));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string State(AdminUserInfo u) => u.Disabled ? "disabled" : u.Locked ? "locked" : "active";

    private static JsonObject UserJson(AdminUserInfo u) => new()
    {
        ["username"] = u.Username,
        ["email"] = u.Email,
        ["is_admin"] = u.IsAdmin,
        ["disabled"] = u.Disabled,
        ["locked"] = u.Locked,
        ["state"] = State(u),
        ["created_at"] = u.CreatedAt,
    };
}
