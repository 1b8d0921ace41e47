using Wharf.Core.Access;
using Wharf.Core.Accounts;
using Wharf.Core.Events;
using Wharf.Server.Endpoints;

namespace Wharf.Server.Accounts;

/// <summary>Registers access control by <c>Wharf:Auth:Mode</c>: the one place the mode is switched.</summary>
public static class AccountsServiceCollectionExtensions
{
    /// <summary>
    /// <c>Accounts</c>: the accounts policy, token service, signing key, credential checks and audit hooks.
    /// <c>Open</c>: everyone may do everything. Throws <see cref="WharfConfigurationException"/> on invalid values.
    /// </summary>
    public static IServiceCollection AddWharfAccounts(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        var section = configuration.GetSection("Wharf:Auth");
        var errors = new List<string>();
        CheckEnum<AuthMode>(section, nameof(AuthOptions.Mode), errors);
        CheckEnum<SignUpMode>(section, nameof(AuthOptions.SignUp), errors);
        CheckEnum<RepositoryVisibility>(section, nameof(AuthOptions.DefaultVisibility), errors);
        if (errors.Count > 0) throw new WharfConfigurationException(errors);
        AuthOptions options;
        try
        {
            options = section.Get<AuthOptions>() ?? new AuthOptions();
        }
        catch (InvalidOperationException e)
        {
            throw new WharfConfigurationException([$"Wharf:Auth: {e.InnerException?.Message ?? e.Message}"]);
        }
        errors.AddRange(options.Validate());
        if (errors.Count > 0) throw new WharfConfigurationException(errors);
        // Without a configured file the key is the installation's, in the shared files; the data folder's old place is only read.
        var signingKeyFile = options.SigningKeyPath is { Length: > 0 } configuredKey ? Path.GetFullPath(configuredKey) : null;
        var legacySigningKey = Path.Combine(dataDir, "keys", "token-signing.pem");
        options.SigningKeyPath = signingKeyFile;
        services.AddSingleton(options);

        if (options.Mode == AuthMode.Open)
        {
            services.AddSingleton<IRegistryAccessPolicy, OpenRegistryAccessPolicy>();
            services.AddSingleton<IInternalCredentials, NoInternalCredentials>();
            services.AddSingleton<ICallerAccess, OpenCallerAccess>();
            services.AddSingleton<IAccountAccess, OpenAccountAccess>();
            return services;
        }
        services.AddSingleton(sp => signingKeyFile is not null
            ? TokenSigningKey.LoadOrCreate(signingKeyFile, sp.GetService<Wharf.Server.KeyProtection.MasterKey>())
            // Resolved once, after start-up has reached and migrated the database.
            : TokenSigningKey.LoadOrCreateSharedAsync(sp.GetRequiredService<Wharf.Core.Storage.ISharedFileStore>(), legacySigningKey,
                sp.GetService<Wharf.Server.KeyProtection.MasterKey>(), CancellationToken.None).GetAwaiter().GetResult());
        services.AddSingleton<IPasswordHashing, PasswordHashing>();
        services.AddSingleton<RepositoryPermissions>();
        services.AddSingleton<CredentialChanges>();
        services.AddSingleton<AccountStatus>();
        services.AddSingleton<AccountService>();
        services.AddSingleton<SessionService>();
        services.AddSingleton<UserAdministration>();
        services.AddSingleton<RegistryTokenService>();
        services.AddSingleton<LoginRateLimiter>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton<CredentialAuthenticator>();
        services.AddSingleton<AccountsRegistryAccessPolicy>();
        services.AddSingleton<IRegistryAccessPolicy>(sp => sp.GetRequiredService<AccountsRegistryAccessPolicy>());
        services.AddSingleton<IRegistryChallenge, BearerChallenge>();
        services.AddSingleton<IInternalCredentials, InternalCredentials>();
        services.AddSingleton<ICallerAccess, AccountsCallerAccess>();
        services.AddSingleton<IRegistryChangeHandler, DefaultVisibilityOnPush>();
        services.AddSingleton<IRegistryChangeHandler, AuditTrail>();
        services.AddSingleton<IAccountAccess, AccountsAccountAccess>();
        return services;
    }

    /// <summary>
    /// Adds the authentication middleware (accounts mode only). The signing key is loaded once the database is reached and
    /// migrated (<see cref="WharfServer.PrepareDatabaseAsync"/>), not here: it lives in the database.
    /// </summary>
    public static IApplicationBuilder UseWharfAccounts(this IApplicationBuilder app)
    {
        if (app.ApplicationServices.GetRequiredService<AuthOptions>().Mode != AuthMode.Accounts) return app;
        return app.UseMiddleware<WharfAuthenticationMiddleware>();
    }

    private static void CheckEnum<T>(IConfigurationSection section, string key, List<string> errors) where T : struct, Enum
    {
        var value = section[key];
        if (value is null || Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(value, out _)) return;
        errors.Add($"Wharf:Auth:{key} '{value}' is not known; allowed values: {string.Join(", ", Enum.GetNames<T>())}.");
    }
}
