using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Wharf.Client;
using Wharf.Client.Api;
using Wharf.Client.Credentials;
using Wharf.Client.Registry;

namespace Wharf.Cli.Client;

/// <summary><c>signup</c>, <c>login</c>, <c>logout</c>, <c>whoami</c>, <c>token create|list|rm</c> (<c>revoke</c> is an alias).</summary>
internal static class AccountCommands
{
    private static Option<string?> UserOption() => new("--username", "-u") { Description = "User name (asked for on a terminal when missing)." };

    private static Option<bool> PasswordStdinOption() => new("--password-stdin") { Description = "Read the password (or access token) from standard input." };

    public static Command SignUp()
    {
        var user = UserOption();
        var email = new Option<string?>("--email") { Description = "E-mail address (optional)." };
        var stdin = PasswordStdinOption();
        var command = new Command("signup", "Create an account on a Wharf server.") { user, email, stdin };
        CliContext.SetAction(command, async context =>
        {
            var server = await context.ServerAsync();
            var username = AskUser(context, context.Parse.GetValue(user));
            var password = await AskSecretAsync(context, context.Parse.GetValue(stdin), confirm: true);
            using var api = new ApiClient(server, null);
            var created = await api.SignUpAsync(username, password, context.Parse.GetValue(email), context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["username"] = created.Username ?? username, ["email"] = created.Email, ["server"] = server.ToString() });
            else context.Say($"Account {created.Username ?? username} created on {server}. Next: wharf login {ServerAddress.HostKey(server)} -u {created.Username ?? username}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Login()
    {
        var serverArgument = new Argument<string?>("SERVER") { Description = "host:port of the Wharf server (default: --server, WHARF_SERVER, the last login).", Arity = ArgumentArity.ZeroOrOne };
        var user = UserOption();
        var stdin = PasswordStdinOption();
        var command = new Command("login", "Log in to a Wharf server; credentials go to docker's config (or its credential helper), so docker can use them too.") { serverArgument, user, stdin };
        CliContext.SetAction(command, async context =>
        {
            var server = context.Parse.GetValue(serverArgument) is { Length: > 0 } s ? ServerAddress.Normalize(s) : await context.ServerAsync();
            var host = ServerAddress.HostKey(server);
            var username = AskUser(context, context.Parse.GetValue(user));
            var password = await AskSecretAsync(context, context.Parse.GetValue(stdin), confirm: false);
            var credential = new RegistryCredential(username, password);
            var login = await RegistryLogin.LoginAsync(server, credential, null, context.CancellationToken);
            if (!login.Checked) await VerifyWithTokenEndpointAsync(server, credential, context.CancellationToken);
            // Like docker: an identity token (a session the server can list and revoke) instead of the password when the server hands one out.
            await context.Credentials.StoreAsync(host, login.Stored, context.CancellationToken);
            await context.Config.SetServerAsync(server.ToString().TrimEnd('/'), context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["server"] = server.ToString().TrimEnd('/'), ["username"] = username, ["config"] = context.Credentials.ConfigPath });
            else context.Say("Login Succeeded");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>When <c>/v2/</c> asks for nothing, Wharf's <c>/auth/token</c> with Basic decides whether the credentials are right.</summary>
    private static async Task VerifyWithTokenEndpointAsync(Uri server, RegistryCredential credential, CancellationToken cancellationToken)
    {
        using var api = new ApiClient(server, credential);
        try
        {
            await api.GetRegistryTokenAsync("wharf", null, cancellationToken);
        }
        catch (ApiException e) when (e.Kind == ClientErrorKind.Unauthorized)
        {
            throw new WharfClientException(ClientErrorKind.Unauthorized, $"Login to {server} failed: wrong user name or password.");
        }
        catch (ApiException)
        {
            // No token endpoint and an open /v2/: nothing can check the credentials; store them as docker would.
        }
    }

    public static Command Logout()
    {
        var serverArgument = new Argument<string?>("SERVER") { Description = "host:port (default: --server, WHARF_SERVER, the last login).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("logout", "Remove the stored credentials of a Wharf server.") { serverArgument };
        CliContext.SetAction(command, async context =>
        {
            var server = context.Parse.GetValue(serverArgument) is { Length: > 0 } s ? ServerAddress.Normalize(s) : await context.ServerAsync();
            var host = ServerAddress.HostKey(server);
            // A stored session (identity token) is ended on the server too, so that a copy of the file is worth nothing.
            var ended = false;
            if (await context.CredentialAsync(server) is { HasIdentityToken: true } session)
            {
                try
                {
                    using var api = new ApiClient(server, session);
                    await api.RevokeSessionAsync("current", context.CancellationToken);
                    ended = true;
                }
                catch (WharfClientException)
                {
                    // Already revoked or expired, another kind of registry, or unreachable: the local copy goes anyway.
                }
            }
            var removed = await context.Credentials.EraseAsync(host, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["server"] = host, ["removed"] = removed, ["session_ended"] = ended });
            else context.Say(removed ? $"Removed login credentials for {host}{(ended ? " and ended the session on the server" : "")}" : $"Not logged in to {host}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command WhoAmI()
    {
        var command = new Command("whoami", "Show the account the stored credentials belong to.");
        CliContext.SetAction(command, async context =>
        {
            var server = await context.ServerAsync();
            if (await context.CredentialAsync(server) is null)
            {
                throw new WharfClientException(ClientErrorKind.Unauthorized, $"Not logged in to {ServerAddress.HostKey(server)}: run 'wharf login {ServerAddress.HostKey(server)}'.");
            }
            using var api = await context.ApiAsync(server);
            var user = await api.GetCurrentUserAsync(context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["username"] = user.Username, ["email"] = user.Email, ["is_admin"] = user.IsAdmin, ["server"] = server.ToString().TrimEnd('/') });
            else context.Say($"{user.Username} on {server.ToString().TrimEnd('/')}");
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Command Token()
    {
        var command = new Command("token", "Personal access tokens and sessions (docker login, wharf login): create, list, revoke.");
        var name = new Argument<string>("NAME") { Description = "A name to recognise the token by, e.g. ci." };
        var scope = new Option<string>("--scope") { Description = "Comma-separated scopes: pull, push, delete, admin.", DefaultValueFactory = _ => "pull" };
        var expires = new Option<string?>("--expires-in") { Description = "Lifetime such as 30d, 12h or 90m (default: no expiry)." };
        var create = new Command("create", "Create a token; its secret is shown once.") { name, scope, expires };
        CliContext.SetAction(create, async context =>
        {
            var scopes = context.Parse.GetValue(scope)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            var bad = scopes.FirstOrDefault(s => s is not ("pull" or "push" or "delete" or "admin"));
            if (bad is not null || scopes.Count == 0) throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{bad}' is not a scope; use pull, push, delete or admin, comma-separated.");
            DateTimeOffset? expiresAt = context.Parse.GetValue(expires) is { } e ? DateTimeOffset.UtcNow + ParseDuration(e) : null;
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var token = await api.CreateTokenAsync(context.Parse.GetValue(name)!, scopes, expiresAt, context.CancellationToken);
            if (context.Json) context.WriteJson(TokenJson(token));
            else
            {
                context.Say($"Token {token.Name} ({IdText(token.Id)}) created with scopes {string.Join(",", token.Scopes ?? scopes)}{(token.ExpiresAt is { } x ? $", expires {x:u}" : "")}.");
                context.Say("Copy it now; it is not shown again:");
                context.Say(token.Token ?? "");
            }
            return ExitCodes.Ok;
        });
        var list = new Command("list", "List your tokens and your sessions (never their secrets); session ids start with 's'.");
        CliContext.SetAction(list, async context =>
        {
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var tokens = await api.ListTokensAsync(context.CancellationToken);
            IReadOnlyList<SessionInfo> sessions;
            try
            {
                sessions = await api.ListSessionsAsync(context.CancellationToken);
            }
            catch (ApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound)
            {
                sessions = []; // a server without sessions
            }
            if (context.Json)
            {
                context.WriteJson(new JsonArray([.. tokens.Select(t => (JsonNode)TokenJson(t)), .. sessions.Select(s => (JsonNode)SessionJson(s))]));
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("ID"), new TableColumn("NAME"), new TableColumn("SCOPES"), new TableColumn("CREATED"), new TableColumn("EXPIRES"), new TableColumn("LAST USED"));
            foreach (var t in tokens)
            {
                table.AddRow(Markup.Escape(IdText(t.Id)), Markup.Escape(t.Name ?? ""), Markup.Escape(string.Join(",", t.Scopes ?? [])),
                    Time(t.CreatedAt), t.ExpiresAt is null ? "never" : Time(t.ExpiresAt), Time(t.LastUsedAt));
            }
            foreach (var s in sessions)
            {
                table.AddRow(Markup.Escape(SessionPrefix + s.Id.ToString(CultureInfo.InvariantCulture)), Markup.Escape(SessionName(s)), Markup.Escape(string.Join(",", s.Scopes ?? [])),
                    Time(s.CreatedAt), Time(s.ExpiresAt), Time(s.LastUsedAt));
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        var id = new Argument<string>("ID") { Description = "The token's id, or a session's (s12), as 'wharf token list' shows them." };
        var revoke = new Command("rm", "Revoke a token or end a session at once.") { id };
        revoke.Aliases.Add("revoke");
        CliContext.SetAction(revoke, async context =>
        {
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var given = context.Parse.GetValue(id)!;
            var isSession = given.StartsWith(SessionPrefix, StringComparison.Ordinal);
            if (isSession) await api.RevokeSessionAsync(given[SessionPrefix.Length..], context.CancellationToken);
            else await api.RevokeTokenAsync(given, context.CancellationToken);
            if (context.Json) context.WriteJson(new JsonObject { ["id"] = given, ["revoked"] = true });
            else context.Say(isSession ? $"Session {given} ended." : $"Token {given} revoked; sessions made with it ended too.");
            return ExitCodes.Ok;
        });
        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(revoke);
        return command;
    }

    /// <summary>
    /// <c>wharf password</c>: <c>PUT /api/v1/user/password</c>. On a terminal it asks for the current password and the new one
    /// twice; <c>--password-stdin</c> reads two lines, the current password then the new one. A login stored with the old
    /// password or session is replaced by a new login with the new password, so the next command (and docker) keeps working.
    /// </summary>
    public static Command Password()
    {
        var stdin = new Option<bool>("--password-stdin") { Description = "Read two lines from standard input: the current password, then the new one." };
        var command = new Command("password", "Change your password.") { stdin };
        CliContext.SetAction(command, async context =>
        {
            var server = await context.ServerAsync();
            var stored = await context.CredentialAsync(server);
            var host = ServerAddress.HostKey(server);
            if (stored is null) throw new WharfClientException(ClientErrorKind.Unauthorized, $"Not logged in to {host}: run 'wharf login {host}' first.");
            string current, next;
            if (context.Parse.GetValue(stdin))
            {
                var lines = (await Console.In.ReadToEndAsync(context.CancellationToken)).ReplaceLineEndings("\n").Split('\n');
                if (lines.Length < 2 || lines[0].Length == 0 || lines[1].Length == 0)
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, "--password-stdin reads two lines: the current password, then the new one.");
                }
                (current, next) = (lines[0], lines[1]);
            }
            else
            {
                if (!context.Interactive || Console.IsInputRedirected)
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, "No terminal to ask on: pipe the current and the new password, one per line, with --password-stdin.");
                }
                current = context.Terminal.Prompt(new TextPrompt<string>("Current password:").Secret());
                next = context.Terminal.Prompt(new TextPrompt<string>("New password:").Secret());
                if (context.Terminal.Prompt(new TextPrompt<string>("Repeat new password:").Secret()) != next)
                {
                    throw new WharfClientException(ClientErrorKind.InvalidInput, "The new passwords differ.");
                }
            }
            using (var api = new ApiClient(server, new RegistryCredential(stored.UserName, current)))
            {
                await api.ChangePasswordAsync(current, next, context.CancellationToken);
            }
            // A stored password is now wrong, and a stored session (identity token) ended with the change: log in
            // again with the new password, as `wharf login` would. A stored personal access token keeps working.
            var relogged = stored.HasIdentityToken || stored.Secret == current;
            if (relogged)
            {
                var login = await RegistryLogin.LoginAsync(server, new RegistryCredential(stored.UserName, next), null, context.CancellationToken);
                await context.Credentials.StoreAsync(host, login.Stored, context.CancellationToken);
            }
            if (context.Json) context.WriteJson(new JsonObject { ["username"] = stored.UserName, ["server"] = host, ["changed"] = true, ["stored_login_updated"] = relogged });
            else context.Say($"Password of {stored.UserName} changed on {host}{(relogged ? "; the stored login uses the new one" : "")}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary><c>wharf audit [--limit N]</c>: the audit log, newest first (administrators).</summary>
    public static Command Audit()
    {
        var limit = new Option<int>("--limit", "-n") { Description = "At most this many events (default 50).", DefaultValueFactory = _ => 50 };
        var command = new Command("audit", "Show the audit log, newest first: logins, tokens, pushes, deletes, permission changes (administrators).") { limit };
        CliContext.SetAction(command, async context =>
        {
            var max = context.Parse.GetValue(limit);
            if (max < 1) throw new WharfClientException(ClientErrorKind.InvalidInput, $"--limit must be a positive number, not {max}.");
            var server = await context.ServerAsync();
            using var api = await context.ApiAsync(server);
            var events = await api.ListAuditAsync(max, context.CancellationToken);
            if (context.Json)
            {
                context.WriteJson(new JsonObject
                {
                    ["events"] = new JsonArray([.. events.Select(e => (JsonNode)new JsonObject
                    {
                        ["id"] = e.Id,
                        ["at"] = e.At,
                        ["actor"] = e.Actor,
                        ["client_address"] = e.ClientAddress,
                        ["action"] = e.Action,
                        ["target"] = e.Target,
                        ["success"] = e.Success,
                        ["detail"] = e.Detail,
                    })]),
                });
                return ExitCodes.Ok;
            }
            var table = context.NewTable(new TableColumn("TIME").NoWrap(), new TableColumn("ACTOR"), new TableColumn("ACTION"), new TableColumn("TARGET"),
                new TableColumn("RESULT"), new TableColumn("ADDRESS"), new TableColumn("DETAIL"));
            foreach (var e in events)
            {
                table.AddRow(e.At?.ToString("u", CultureInfo.InvariantCulture) ?? "", Markup.Escape(e.Actor ?? "(anonymous)"), Markup.Escape(e.Action ?? ""),
                    Markup.Escape(e.Target ?? ""), e.Success == false ? "failed" : "ok", Markup.Escape(e.ClientAddress ?? ""), Markup.Escape(e.Detail ?? ""));
            }
            context.Terminal.Write(table);
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>"30d", "12h", "90m", "3600s".</summary>
    public static TimeSpan ParseDuration(string text)
    {
        if (text.Length >= 2 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (text[^1])
            {
                case 'd': return TimeSpan.FromDays(n);
                case 'h': return TimeSpan.FromHours(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 's': return TimeSpan.FromSeconds(n);
            }
        }
        throw new WharfClientException(ClientErrorKind.InvalidInput, $"'{text}' is not a duration; use e.g. 30d, 12h or 90m.");
    }

    private static string IdText(object? id) => id?.ToString() ?? "";

    /// <summary>Session ids are shown with this prefix, so that one verb revokes tokens and sessions.</summary>
    private const string SessionPrefix = "s";

    private static string Time(DateTimeOffset? at) => at?.ToString("u", CultureInfo.InvariantCulture) ?? "";

    private static string SessionName(SessionInfo s) =>
        $"session: {s.ClientId} from {s.ClientAddress ?? "?"}, {(s.Credential == "token" ? $"token {s.TokenName ?? IdText(s.TokenId)}" : "password")}{(s.Current ? " (this one)" : "")}";

    private static JsonObject SessionJson(SessionInfo s) => new()
    {
        ["kind"] = "session",
        ["id"] = SessionPrefix + s.Id.ToString(CultureInfo.InvariantCulture),
        ["client_id"] = s.ClientId,
        ["client_address"] = s.ClientAddress,
        ["credential"] = s.Credential,
        ["token_id"] = s.TokenId,
        ["token_name"] = s.TokenName,
        ["scopes"] = new JsonArray([.. (s.Scopes ?? []).Select(x => (JsonNode)x)]),
        ["created_at"] = s.CreatedAt,
        ["expires_at"] = s.ExpiresAt,
        ["last_used_at"] = s.LastUsedAt,
        ["current"] = s.Current,
    };

    private static JsonObject TokenJson(AccessTokenInfo t) => new()
    {
        ["kind"] = "token",
        ["id"] = IdText(t.Id),
        ["name"] = t.Name,
        ["token"] = t.Token,
        ["scopes"] = new JsonArray([.. (t.Scopes ?? []).Select(s => (JsonNode)s)]),
        ["created_at"] = t.CreatedAt,
        ["expires_at"] = t.ExpiresAt,
        ["last_used_at"] = t.LastUsedAt,
    };

    internal static string AskUser(CliContext context, string? given)
    {
        if (!string.IsNullOrWhiteSpace(given)) return given.Trim();
        if (context.Interactive && !Console.IsInputRedirected) return context.Terminal.Prompt(new TextPrompt<string>("Username:"));
        throw new WharfClientException(ClientErrorKind.InvalidInput, "Give the user name with --username (no terminal to ask on).");
    }

    internal static async Task<string> AskSecretAsync(CliContext context, bool fromStdin, bool confirm)
    {
        if (fromStdin)
        {
            var text = (await Console.In.ReadToEndAsync(context.CancellationToken)).TrimEnd('\r', '\n');
            if (text.Length == 0) throw new WharfClientException(ClientErrorKind.InvalidInput, "--password-stdin was given but standard input was empty.");
            return text;
        }
        if (!context.Interactive || Console.IsInputRedirected)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, "No terminal to ask for the password on: pipe it in with --password-stdin.");
        }
        var password = context.Terminal.Prompt(new TextPrompt<string>("Password:").Secret());
        if (confirm && context.Terminal.Prompt(new TextPrompt<string>("Repeat password:").Secret()) != password)
        {
            throw new WharfClientException(ClientErrorKind.InvalidInput, "The passwords differ.");
        }
        return password;
    }
}
