using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Wharf.Cli.Client;
using Wharf.Client;
using Wharf.Client.Webhooks;

namespace Wharf.Cli.Commands;

/// <summary><c>wharf webhook add|list|rm|deliveries|redeliver</c>, over <c>/api/v1/webhooks</c>.</summary>
public static class WebhookCommands
{
    public static void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var webhook = new Command("webhook", "Webhooks: Wharf POSTs signed JSON to a URL on pushes, deletes and build ends.");
        webhook.Subcommands.Add(Add());
        webhook.Subcommands.Add(List());
        webhook.Subcommands.Add(Remove());
        webhook.Subcommands.Add(Deliveries());
        webhook.Subcommands.Add(Redeliver());
        root.Subcommands.Add(webhook);
    }

    private static async Task<WebhooksClient> ClientAsync(CliContext context)
    {
        var server = await context.ServerAsync();
        return new WebhooksClient(server, await context.CredentialAsync(server));
    }

    private static Command Add()
    {
        var url = new Argument<string>("URL") { Description = "Where deliveries are POSTed (http or https)." };
        var repository = new Option<string?>("--repository", "-r") { Description = "Watch this repository (namespace/name)." };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Watch every repository of this namespace." };
        var events = new Option<string[]>("--event", "-e") { Description = "push, delete or build; repeatable (default: push).", AllowMultipleArgumentsPerToken = true };
        var secret = new Option<string?>("--secret") { Description = "Signing secret (default: one is made and printed once). Also WHARF_WEBHOOK_SECRET." };
        var format = new Option<string?>("--format") { Description = "wharf (default) or distribution (the reference registry's envelope)." };
        var command = new Command("add", "Add a webhook to a repository or a namespace you own.") { url, repository, ns, events, secret, format };
        CliContext.SetAction(command, async context =>
        {
            var repo = context.Parse.GetValue(repository);
            var space = context.Parse.GetValue(ns);
            if ((repo is null) == (space is null)) throw new WharfClientException(ClientErrorKind.InvalidInput, "Give --repository NAME or --namespace NAME (one of them).");
            var chosen = context.Parse.GetValue(events) is { Length: > 0 } given
                ? given.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList()
                : ["push"];
            var made = context.Parse.GetValue(secret) ?? Environment.GetEnvironmentVariable("WHARF_WEBHOOK_SECRET");
            var generated = made is null;
            made ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
            using var client = await ClientAsync(context);
            var created = await client.AddAsync(context.Parse.GetValue(url)!, made, chosen, repo, space, context.Parse.GetValue(format), context.CancellationToken);
            if (generated) created["secret"] = made;
            if (context.Json)
            {
                context.WriteJson(created);
                return ExitCodes.Ok;
            }
            context.Say($"Added webhook {created["id"]} for {Scope(created)}: {string.Join(", ", Events(created))} → {created["url"]}");
            if (generated) context.Say($"Signing secret (shown once; deliveries carry X-Wharf-Signature-256: sha256=HMAC of the body): {made}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List your webhooks (an administrator sees every one).");
        CliContext.SetAction(command, async context =>
        {
            using var client = await ClientAsync(context);
            var list = await client.ListAsync(context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(list);
                return ExitCodes.Ok;
            }
            var hooks = list["webhooks"]!.AsArray();
            if (hooks.Count == 0) context.Say("No webhooks.");
            foreach (var hook in hooks)
            {
                context.Say($"{hook!["id"]}  {Scope(hook),-30}  {string.Join(",", Events(hook)),-18}  {hook["format"],-12}  {hook["url"]}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var id = new Argument<string>("ID") { Description = "The webhook's id (wharf webhook list)." };
        var command = new Command("rm", "Remove a webhook; its pending deliveries go with it.") { id };
        CliContext.SetAction(command, async context =>
        {
            using var client = await ClientAsync(context);
            await client.RemoveAsync(context.Parse.GetValue(id)!, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["removed"] = context.Parse.GetValue(id) });
            else context.Say($"Removed webhook {context.Parse.GetValue(id)}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Deliveries()
    {
        var id = new Argument<string>("ID") { Description = "The webhook's id." };
        var limit = new Option<int?>("--limit") { Description = "At most this many, newest first (default 20, at most 100)." };
        var command = new Command("deliveries", "Show a webhook's recent deliveries: state, attempts, the receiver's status and how long it took.") { id, limit };
        CliContext.SetAction(command, async context =>
        {
            using var client = await ClientAsync(context);
            var list = await client.DeliveriesAsync(context.Parse.GetValue(id)!, context.Parse.GetValue(limit), context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(list);
                return ExitCodes.Ok;
            }
            var deliveries = list["deliveries"]!.AsArray();
            if (deliveries.Count == 0) context.Say("No deliveries yet.");
            foreach (var d in deliveries)
            {
                var status = d!["status"] is { } s ? s.ToString() : "-";
                var took = d["duration_ms"] is { } ms ? ms + " ms" : "-";
                context.Say($"{d["id"]}  {d["event"],-6}  {d["state"],-9}  attempts {d["attempts"]}  status {status,-3}  {took,-8}  {d["created_at"]}{(d["error"] is { } e ? "  " + e : "")}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Redeliver()
    {
        var id = new Argument<string>("ID") { Description = "The webhook's id." };
        var delivery = new Argument<string>("DELIVERY") { Description = "The delivery to send again (its payload, as a new delivery)." };
        var command = new Command("redeliver", "Send a past delivery again.") { id, delivery };
        CliContext.SetAction(command, async context =>
        {
            using var client = await ClientAsync(context);
            var queued = await client.RedeliverAsync(context.Parse.GetValue(id)!, context.Parse.GetValue(delivery)!, context.CancellationToken);
            if (context.Json) context.WriteJson(queued);
            else context.Say($"Queued delivery {queued["id"]} (a redelivery of {context.Parse.GetValue(delivery)}).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Scope(JsonNode hook) =>
        hook["repository"]?.GetValue<string>() ?? (hook["namespace"]?.GetValue<string>() is { } ns ? ns + "/*" : "(all, from configuration)");

    private static IEnumerable<string> Events(JsonNode hook) => hook["events"]!.AsArray().Select(e => e!.GetValue<string>());
}
