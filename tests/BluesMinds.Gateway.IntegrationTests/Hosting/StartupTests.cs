using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;

namespace BluesMinds.Gateway.IntegrationTests.Hosting;

/// <summary>The gateway started as operators start it: a process, configured by environment variables.</summary>
public sealed class StartupTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static Dictionary<string, string?> ValidProduction(TestDatabase database) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["APP_URL"] = "https://gateway.example.com",
        ["DATABASE_PROVIDER"] = database.Provider.ToString(),
        ["DATABASE_URL"] = database.Url,
        ["JWT_SECRET"] = TestEnvironmentVariables.StrongSecrets["JWT_SECRET"],
        ["API_KEY_SECRET"] = TestEnvironmentVariables.StrongSecrets["API_KEY_SECRET"],
        ["ENCRYPTION_KEY"] = TestEnvironmentVariables.StrongSecrets["ENCRYPTION_KEY"],
        ["BCRYPT_ROUNDS"] = "10",
        ["ADMIN_EMAILS"] = "ops@example.com",
    };

    [Fact]
    public async Task Production_BadConfiguration_RefusesToStartListingEveryProblemWithoutSecretValues()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment["APP_URL"] = "http://gateway.example.com";
        environment["JWT_SECRET"] = "Shared-Value-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6";
        environment["API_KEY_SECRET"] = "Shared-Value-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6";
        environment["ENCRYPTION_KEY"] = "changeme-changeme-changeme-changeme";
        environment["CORS_ORIGINS"] = "*";
        environment["BCRYPT_ROUNDS"] = "4";
        environment["STRIPE_SECRET_KEY"] = "sk_live_Hidden51234567890";

        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        var exitCode = await gateway.WaitForExitAsync(Timeout);

        Assert.NotEqual(0, exitCode);
        var output = gateway.Output;
        Assert.Contains("cannot start (Production): the configuration has 6 problem(s)", output, StringComparison.Ordinal);
        Assert.Contains("APP_URL must use https in Production.", output, StringComparison.Ordinal);
        Assert.Contains("JWT_SECRET and API_KEY_SECRET must be different secrets.", output, StringComparison.Ordinal);
        Assert.Contains("ENCRYPTION_KEY is a known weak or placeholder value", output, StringComparison.Ordinal);
        Assert.Contains("CORS_ORIGINS must list origins explicitly", output, StringComparison.Ordinal);
        Assert.Contains("BCRYPT_ROUNDS must be between 10 and 14.", output, StringComparison.Ordinal);
        Assert.Contains("STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Shared-Value-Zq8", output, StringComparison.Ordinal);
        Assert.DoesNotContain("changeme-changeme", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Hidden51234567890", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_NoSecretsAtAll_RefusesToStartNamingEachMissingSecret()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment.Remove("JWT_SECRET");
        environment.Remove("API_KEY_SECRET");
        environment.Remove("ENCRYPTION_KEY");

        await using var gateway = GatewayProcess.Start(database.Directory, environment);

        Assert.NotEqual(0, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains("JWT_SECRET is not set.", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("API_KEY_SECRET is not set.", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("ENCRYPTION_KEY is not set.", gateway.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(database.Directory, "data", "dev-secrets.json")), "Production must never generate secrets.");
    }

    [Theory]
    [InlineData("Postgres", "postgres://gateway:Leak-Me-Not-77@db.internal", "DATABASE_URL must name exactly one database")]
    [InlineData("Postgres", "postgres://gateway:Leak-Me-Not-77@", "DATABASE_URL is not a valid URL")]
    [InlineData("Postgres", "Host=db;Pooling=maybe;Password=Leak-Me-Not-77", "DATABASE_URL is neither a postgres:// URL nor a valid Npgsql connection string.")]
    [InlineData("Postgres", "mysql://gateway:Leak-Me-Not-77@db/x", "DATABASE_URL has scheme 'mysql'")]
    [InlineData("Postgres", "", "DATABASE_URL is required when Database:Provider is Postgres.")]
    [InlineData("Oracle", "", "Database:Provider 'Oracle' is not supported; use Sqlite or Postgres.")]
    [InlineData("Sqlite", "postgres://gateway:Leak-Me-Not-77@db.internal/gateway", "DATABASE_URL names a PostgreSQL database, but Database:Provider is Sqlite")]
    [InlineData("Sqlite", "Host=db.internal;Database=gateway;Password=Leak-Me-Not-77", "DATABASE_URL names a PostgreSQL database, but Database:Provider is Sqlite")]
    public async Task BadDatabaseSetting_RefusesToStartWithAClearMessage(string provider, string url, string expected)
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment["DATABASE_PROVIDER"] = provider;
        environment["DATABASE_URL"] = url;

        await using var gateway = GatewayProcess.Start(database.Directory, environment);

        Assert.NotEqual(0, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains(expected, gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Leak-Me-Not-77", gateway.Output, StringComparison.Ordinal);
        // No SQLite file was made from the URL (a folder "postgres:" holding the password in its path).
        Assert.Empty(Directory.GetDirectories(database.Directory, "postgres*"));
    }

    [Theory]
    [InlineData("INLINE_SOCKET_IO", "sometimes", "'App:InlineSocketIo'")]
    [InlineData("MAX_REQUEST_BODY_BYTES", "lots", "'App:MaxRequestBodyBytes'")]
    [InlineData("DATABASE_MIGRATE_ON_STARTUP", "maybe", "'Database:MigrateOnStartup'")]
    public async Task ValueOfTheWrongType_RefusesToStartWithAClearMessage(string variable, string value, string expected)
    {
        // Read while the host is still being built, too: that read must not crash with a stack trace.
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment[variable] = value;

        await using var gateway = GatewayProcess.Start(database.Directory, environment);

        Assert.Equal(1, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains("cannot start (Production): the configuration has 1 problem(s)", gateway.Output, StringComparison.Ordinal);
        Assert.Contains(expected, gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Postgres", "postgres://gateway:Leak-Me-Not-77@127.0.0.1:1/gateway?timeout=1")]
    [InlineData(null, "postgres://gateway:Leak-Me-Not-77@127.0.0.1:1/gateway?timeout=1")]
    [InlineData(null, "Host=127.0.0.1;Port=1;Database=gateway;Username=gateway;Password=Leak-Me-Not-77;Timeout=1")]
    public async Task UnreachableDatabase_WithMigrateOnStartup_ExitsNonZeroAfterRetryingWithoutThePassword(string? provider, string url)
    {
        // Without a provider a postgres:// URL or a connection string with Host selects PostgreSQL by
        // itself: the message names the PostgreSQL server it tried, and no SQLite file was made instead.
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment["DATABASE_PROVIDER"] = provider;
        environment["DATABASE_URL"] = url;
        environment["DATABASE_MIGRATE_ON_STARTUP"] = "true";
        environment["Database__StartupTimeoutSeconds"] = "2";

        await using var gateway = GatewayProcess.Start(database.Directory, environment);

        Assert.Equal(1, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains("cannot start: Could not migrate the database (postgres 127.0.0.1:1/gateway): cannot connect", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Leak-Me-Not-77", gateway.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(database.Directory, "postgres*"));
    }

    [Fact]
    public async Task MigrateCommand_EmptyDatabase_AppliesMigrationsAndExitsZero()
    {
        await using var database = await TestDatabase.CreateAsync();
        var environment = ValidProduction(database);
        // A migration job needs only the database settings.
        environment.Remove("JWT_SECRET");

        await using var gateway = GatewayProcess.Start(database.Directory, environment, "migrate");

        Assert.Equal(0, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains("migrate: database is up to date.", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("billing_plans", await database.TableNamesAsync());
    }

    [Fact]
    public async Task MigrateCommand_UnreachableDatabase_ExitsNonZeroWithAClearMessage()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        environment["DATABASE_PROVIDER"] = "Postgres";
        environment["DATABASE_URL"] = "postgres://gateway:Leak-Me-Not-77@127.0.0.1:1/gateway?timeout=1";
        environment["Database__StartupTimeoutSeconds"] = "1";

        await using var gateway = GatewayProcess.Start(database.Directory, environment, "migrate");

        Assert.Equal(1, await gateway.WaitForExitAsync(Timeout));
        Assert.Contains("migrate: Could not migrate the database (postgres 127.0.0.1:1/gateway): cannot connect", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Leak-Me-Not-77", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_ValidConfiguration_ServesAndWritesJsonLogsCarryingTheRequestId()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = ValidProduction(database);
        // Not migrated: readiness fails and logs why, inside the request's scope.
        environment["DATABASE_PROVIDER"] = "Postgres";
        environment["DATABASE_URL"] = "postgres://gateway:Leak-Me-Not-77@127.0.0.1:1/gateway?timeout=1";

        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        var address = await gateway.WaitForListeningAsync(Timeout);
        using var client = new HttpClient { BaseAddress = address };

        var live = await client.GetAsync(new Uri("/api/health/live", UriKind.Relative));
        var ready = await client.GetAsync(new Uri("/api/health/ready", UriKind.Relative));
        var requestId = ready.Headers.GetValues("X-Request-Id").Single();
        await Task.Delay(500);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var lines = gateway.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        var parsed = lines.Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Contains(parsed, d => d.RootElement.GetProperty("LogLevel").GetString() is "Warning" or "Error"
            && d.RootElement.GetProperty("Scopes").EnumerateArray().Any(s => s.TryGetProperty("RequestId", out var id) && id.GetString() == requestId));
        Assert.DoesNotContain("Leak-Me-Not-77", gateway.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ASPNETCORE_URLS", "http://127.0.0.1:0")]
    [InlineData("ASPNETCORE_HTTP_PORTS", "0")]
    public async Task StartedFromItsOwnDirectory_ListensWhereTheEnvironmentSays(string variable, string value)
    {
        // As operators run it: from a directory holding the shipped appsettings.json (a container's
        // WORKDIR). Its default address must not beat the one given in the environment.
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), Path.Combine(database.Directory, "appsettings.json"));
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_URLS"] = null,
            [variable] = value,
        };

        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        var address = await gateway.WaitForListeningAsync(Timeout);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{address.Port}") };
        var live = await client.GetAsync(new Uri("/api/health/live", UriKind.Relative));

        Assert.NotEqual(5080, address.Port);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.DoesNotContain("Overriding", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_WritesNoDataProtectionKeyRing()
    {
        // Nothing here protects data with ASP.NET Core data protection (sessions are signed JWTs),
        // so no replica should read or create its XML key ring under $HOME.
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var home = Directory.CreateDirectory(Path.Combine(database.Directory, "home")).FullName;
        var environment = new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Development", ["HOME"] = home };

        await using (var gateway = GatewayProcess.Start(database.Directory, environment))
        {
            var address = await gateway.WaitForListeningAsync(Timeout);
            using var client = new HttpClient { BaseAddress = address };
            var signup = await client.PostAsync(
                new Uri("/api/auth/signup", UriKind.Relative),
                new StringContent("""{"email":"keyring@example.com","password":"Keyring-Password-42!"}""", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, signup.StatusCode);
            await Task.Delay(500);
        }

        Assert.False(Directory.Exists(Path.Combine(home, ".aspnet")), "a data protection key ring was written under $HOME");
    }

    [Fact]
    public async Task Development_NoConfiguration_GeneratesSecretsOnceAndKeepsThem()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Development" };
        var secretsFile = Path.Combine(database.Directory, "data", "dev-secrets.json");

        string firstSecrets;
        await using (var first = GatewayProcess.Start(database.Directory, environment))
        {
            await first.WaitForListeningAsync(Timeout);
            Assert.Contains("Development secrets Generated", first.Output, StringComparison.Ordinal);
            firstSecrets = await File.ReadAllTextAsync(secretsFile);
        }

        await using (var second = GatewayProcess.Start(database.Directory, environment))
        {
            await second.WaitForListeningAsync(Timeout);
            Assert.Contains("Development secrets Reused", second.Output, StringComparison.Ordinal);
        }

        Assert.Equal(firstSecrets, await File.ReadAllTextAsync(secretsFile));
        using var secrets = JsonDocument.Parse(firstSecrets);
        Assert.Equal(3, secrets.RootElement.EnumerateObject().Count());
        Assert.All(secrets.RootElement.EnumerateObject(), p => Assert.True(p.Value.GetString()!.Length >= 32));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretsFile));
        }

        Assert.True(File.Exists(Path.Combine(database.Directory, "data", "bluesminds.db")), "the embedded default is a SQLite file under ./data/");
    }

    [Fact]
    public async Task Development_DotEnvFiles_AreReadAndRealEnvironmentVariablesWin()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await File.WriteAllTextAsync(Path.Combine(database.Directory, ".env"), "DATABASE_PROVIDER=Oracle\nBCRYPT_ROUNDS=3\n");
        await File.WriteAllTextAsync(Path.Combine(database.Directory, ".env.local"), "BCRYPT_ROUNDS=2\n");
        var environment = new Dictionary<string, string?> { ["ASPNETCORE_ENVIRONMENT"] = "Development" };

        await using (var fromFiles = GatewayProcess.Start(database.Directory, environment))
        {
            Assert.NotEqual(0, await fromFiles.WaitForExitAsync(Timeout));
            Assert.Contains("Database:Provider 'Oracle' is not supported", fromFiles.Output, StringComparison.Ordinal);
            // .env.local overrides .env.
            Assert.Contains("BCRYPT_ROUNDS must be between 4 and 31.", fromFiles.Output, StringComparison.Ordinal);
        }

        environment["DATABASE_PROVIDER"] = "Sqlite";
        environment["BCRYPT_ROUNDS"] = "10";
        await using var overridden = GatewayProcess.Start(database.Directory, environment);
        await overridden.WaitForListeningAsync(Timeout);
    }

    [Fact]
    public async Task Production_DotEnvFiles_AreIgnored()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await File.WriteAllTextAsync(Path.Combine(database.Directory, ".env"), "DATABASE_PROVIDER=Oracle\n");

        await using var gateway = GatewayProcess.Start(database.Directory, ValidProduction(database), "migrate");

        Assert.Equal(0, await gateway.WaitForExitAsync(Timeout));
    }
}
