using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;

namespace Wharf.Cli.Client;

/// <summary><c>wharf org create|list</c> and <c>wharf org member add|remove|list</c>, over <c>/api/v1/orgs</c>.</summary>
internal static class OrgCommands
{
    private static readonly string[] Roles = ["owner", "maintainer", "reader"];

    public static Command Create()
    {
        var command = new Command("org", "Organizations: namespaces shared by their members (owners, maintainers, readers).");
        var name = new Argument<string>("NAME") { Description = "The organization's name, which becomes its namespace." };
        var create = new Command("create", "Create an organization; you become its owner.") { name };
        CliContext.SetAction(create, async context =>
        {
            using var api = await ApiAsync(context);
            var org = await api.CreateOrganizationAsync(context.Parse.GetValue(name)!.Trim(), context.CancellationToken);
            if (context.Json) context.WriteJson(OrganizationJson(org));
            else context.Say($"Created organization {org.Name}; push to it as {org.Name}/NAME:TAG.");
            return ExitCodes.Ok;
        });
        var list = new Command("list", "List the organizations you belong to, with your role.");
        CliContext.SetAction(list, async context =>
        {
            using var api = await ApiAsync(context);
            var orgs = await api.ListOrganizationsAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject { ["organizations"] = new JsonArray([.. orgs.Select(o => (JsonNode)new JsonObject { ["name"] = o.Name, ["role"] = o.Role })]) });
                return ExitCodes.Ok;
            }
            if (orgs.Count == 0)
            {
                context.Say("You belong to no organization; create one with 'wharf org create NAME'.");
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("ORGANIZATION").NoWrap(), new TableColumn("ROLE"));
            foreach (var o in orgs) table.AddRow(Markup.Escape(o.Name ?? ""), Markup.Escape(o.Role ?? ""));
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(Member());
        return command;
    }

    private static Command Member()
    {
        var command = new Command("member", "An organization's members: add (or change a role), remove, list.");
        var org = new Argument<string>("ORG") { Description = "The organization." };
        var user = new Argument<string>("USER") { Description = "The member's user name." };
        var role = new Option<string>("--role", "-r") { Description = "owner, maintainer (pushes and deletes) or reader (pulls). Default reader.", DefaultValueFactory = _ => "reader" };
        role.AcceptOnlyFromAmong(Roles);
        var add = new Command("add", "Add a member, or change a member's role (owners only).") { org, user, role };
        CliContext.SetAction(add, async context =>
        {
            using var api = await ApiAsync(context);
            var result = await api.SetMemberAsync(context.Parse.GetValue(org)!, context.Parse.GetValue(user)!, context.Parse.GetValue(role)!, context.CancellationToken);
            if (context.Json) context.WriteJson(OrganizationJson(result));
            else context.Say($"{context.Parse.GetValue(user)} is now {context.Parse.GetValue(role)} of {result.Name}.");
            return ExitCodes.Ok;
        });
        var removeOrg = new Argument<string>("ORG") { Description = "The organization." };
        var removeUser = new Argument<string>("USER") { Description = "The member's user name." };
        var remove = new Command("remove", "Remove a member (owners only; an organization keeps at least one owner).") { removeOrg, removeUser };
        CliContext.SetAction(remove, async context =>
        {
            using var api = await ApiAsync(context);
            var result = await api.RemoveMemberAsync(context.Parse.GetValue(removeOrg)!, context.Parse.GetValue(removeUser)!, context.CancellationToken);
            if (context.Json) context.WriteJson(OrganizationJson(result));
            else context.Say($"{context.Parse.GetValue(removeUser)} is no longer a member of {result.Name}.");
            return ExitCodes.Ok;
        });
        var listOrg = new Argument<string>("ORG") { Description = "The organization." };
        var list = new Command("list", "List an organization's members and their roles.") { listOrg };
        CliContext.SetAction(list, async context =>
        {
            using var api = await ApiAsync(context);
            var members = await api.ListMembersAsync(context.Parse.GetValue(listOrg)!, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject { ["organization"] = context.Parse.GetValue(listOrg), ["members"] = MembersJson(members) });
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("USER").NoWrap(), new TableColumn("ROLE"), new TableColumn("ADDED").NoWrap());
            foreach (var m in members)
            {
                table.AddRow(Markup.Escape(m.Username ?? ""), Markup.Escape(m.Role ?? ""), m.AddedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "");
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(add);
        command.Subcommands.Add(remove);
        command.Subcommands.Add(list);
        return command;
    }

    private static async Task<ApiClient> ApiAsync(CliContext context) => await context.ApiAsync(await context.ServerAsync());

    private static JsonObject OrganizationJson(OrganizationInfo org) => new()
    {
        ["name"] = org.Name,
        ["created_at"] = org.CreatedAt,
        ["members"] = MembersJson(org.Members ?? []),
    };

    private static JsonArray MembersJson(IEnumerable<MemberInfo> members) =>
        new([.. members.Select(m => (JsonNode)new JsonObject { ["username"] = m.Username, ["role"] = m.Role, ["added_at"] = m.AddedAt })]);
}
