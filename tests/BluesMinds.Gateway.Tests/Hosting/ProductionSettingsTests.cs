using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Tests.Hosting;

public sealed class ProductionSettingsTests
{
    private const string Jwt = "f3Kq9ZrP0wXb7LmN2sTy5VhC8dJ1eGuA4oRiQzWx";
    private const string ApiKey = "Bn6Tq1YpZ8cWm3Rv0Lk5Hs9Jd2Fx7Ga4Eu1Oi8Py";
    private const string Encryption = "Qm2Wn8Eb5Rv1Tc7Yx4Uz0Ia3Os9Pd6Lf2Kg5Jh8Hj";

    private static SecurityOptions StrongSecurity() => new()
    {
        JwtSecret = Jwt,
        ApiKeySecret = ApiKey,
        EncryptionKey = Encryption,
        BcryptRounds = 12,
        CorsOrigins = "https://app.example.com, https://admin.example.com",
        AdminEmails = "ops@example.com",
    };

    [Fact]
    public void Security_StrongProductionSettings_AreValid()
    {
        var result = new SecurityOptionsValidator(TestEnvironment.Production).Validate(null, StrongSecurity());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void Security_EveryProblemAtOnce_IsReportedWithoutSecretValues()
    {
        var options = new SecurityOptions
        {
            JwtSecret = "too-short-Zq",
            ApiKeySecret = "too-short-Zq",
            EncryptionKey = null,
            BcryptRounds = 8,
            CorsOrigins = "*",
        };

        var result = new SecurityOptionsValidator(TestEnvironment.Production).Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains(failures, f => f.StartsWith("JWT_SECRET is shorter", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("API_KEY_SECRET is shorter", StringComparison.Ordinal));
        Assert.Contains(failures, f => f == "ENCRYPTION_KEY is not set.");
        Assert.Contains(failures, f => f.Contains("JWT_SECRET and API_KEY_SECRET must be different", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("BCRYPT_ROUNDS must be between 10 and 14", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'*' is refused in Production", StringComparison.Ordinal));
        Assert.All(failures, f => Assert.DoesNotContain("too-short-Zq", f, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(15)]
    public void Security_BcryptRoundsOutsideTenToFourteen_IsRefusedInProduction(int rounds)
    {
        var options = StrongSecurity();
        options.BcryptRounds = rounds;

        Assert.True(new SecurityOptionsValidator(TestEnvironment.Production).Validate(null, options).Failed);
    }

    [Fact]
    public void Security_ShortSecretsInDevelopment_AreAllowed()
    {
        var options = new SecurityOptions { JwtSecret = "dev-a", ApiKeySecret = "dev-b", EncryptionKey = "dev-c", BcryptRounds = 4, CorsOrigins = "*" };

        Assert.True(new SecurityOptionsValidator(TestEnvironment.Development).Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("https://app.example.com/path")]
    [InlineData("ftp://app.example.com")]
    public void Security_CorsOriginThatIsNotAnOrigin_IsRefused(string origin)
    {
        var options = StrongSecurity();
        options.CorsOrigins = origin;

        var result = new SecurityOptionsValidator(TestEnvironment.Production).Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith("CORS_ORIGINS has an entry", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://gateway.example.com", "APP_URL must use https in Production.")]
    [InlineData("not a url", "APP_URL must be an absolute http(s) URL.")]
    public void App_UrlNotHttps_IsRefusedInProduction(string url, string expected)
    {
        var result = new AppOptionsValidator(TestEnvironment.Production).Validate(null, new AppOptions { Url = url });

        Assert.Contains(expected, result.Failures!);
    }

    [Fact]
    public void App_HttpUrlInDevelopment_IsAllowed()
    {
        Assert.True(new AppOptionsValidator(TestEnvironment.Development).Validate(null, new AppOptions { Url = "http://localhost:5080" }).Succeeded);
    }

    [Fact]
    public void App_TrustedProxiesThatAreNotAddresses_AreRefused()
    {
        var result = new AppOptionsValidator(TestEnvironment.Production).Validate(
            null, new AppOptions { Url = "https://gw.example.com", TrustedProxies = "10.0.0.0/8, 192.168.1.10, proxy.internal" });

        Assert.Single(result.Failures!);
        Assert.Contains("proxy.internal", result.Failures!.Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sk_live_abc123", null, "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not")]
    [InlineData(null, "whsec_abc123", "STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not")]
    public void Stripe_HalfConfigured_IsRefusedInProduction(string? key, string? webhook, string expected)
    {
        var result = new StripeOptionsValidator(TestEnvironment.Production).Validate(null, new StripeOptions { SecretKey = key, WebhookSecret = webhook });

        Assert.Contains(result.Failures!, f => f.StartsWith(expected, StringComparison.Ordinal));
        Assert.All(result.Failures!, f => Assert.DoesNotContain("abc123", f, StringComparison.Ordinal));
    }

    [Fact]
    public void Stripe_FullyConfiguredOrAbsent_IsValid()
    {
        var validator = new StripeOptionsValidator(TestEnvironment.Production);

        Assert.True(validator.Validate(null, new StripeOptions()).Succeeded);
        Assert.True(validator.Validate(null, new StripeOptions { SecretKey = "sk_live_x", WebhookSecret = "whsec_y" }).Succeeded);
    }

    [Theory]
    [InlineData("Mongo", "Database:Provider 'Mongo' is not supported; use Sqlite or Postgres.")]
    [InlineData("Postgres", "DATABASE_URL is required when Database:Provider is Postgres.")]
    public void Database_UnknownProviderOrMissingUrl_IsRefused(string provider, string expected)
    {
        var validator = new DatabaseOptionsValidator(Microsoft.Extensions.Options.Options.Create(new AppOptions()), TestEnvironment.Development);

        var result = validator.Validate(null, new DatabaseOptions { Provider = provider });

        Assert.Contains(expected, result.Failures!);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("POSTGRES")]
    public void Database_ProviderName_IsCaseInsensitive(string provider)
    {
        var options = new DatabaseOptions { Provider = provider, Url = provider == "POSTGRES" ? "postgres://u:p@h/db" : null };

        Assert.True(options.TryGetProvider(out _));
        Assert.NotEmpty(options.ConnectionString(Path.GetTempPath()));
    }

    [Theory]
    [InlineData("postgres://gateway:pw@db.internal/gateway")]
    [InlineData("postgresql://gateway:pw@db.internal:5433/gateway")]
    [InlineData("  POSTGRES://gateway:pw@db.internal/gateway")]
    [InlineData("Host=db.internal;Database=gateway;Username=gateway;Password=pw")]
    [InlineData("server = db.internal; port=5433; database=gateway")]
    public void Database_PostgresUrlOrConnectionStringWithoutAProvider_MeansPostgres(string url)
    {
        var options = new DatabaseOptions { Url = url };

        Assert.True(options.TryGetProvider(out var provider));
        Assert.Equal(BluesMinds.Gateway.Data.DatabaseProvider.Postgres, provider);
        Assert.Contains("Host=db.internal", options.ConnectionString(Path.GetTempPath()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("/var/lib/bluesminds/gateway.db")]
    [InlineData("sqlite:///var/lib/bluesminds/gateway.db")]
    [InlineData("Data Source=/var/lib/bluesminds/gateway.db")]
    [InlineData("Data Source=/var/lib/host=db.internal/gateway.db")]
    public void Database_NoProviderAndNoPostgresDatabase_MeansSqlite(string? url)
    {
        var options = new DatabaseOptions { Url = url };

        Assert.True(options.TryGetProvider(out var provider));
        Assert.Equal(BluesMinds.Gateway.Data.DatabaseProvider.Sqlite, provider);
        Assert.EndsWith(url is null ? "bluesminds.db" : "gateway.db", new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(options.ConnectionString(Path.GetTempPath())).DataSource, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Sqlite", "postgres://gateway:Leak-Me-Not-77@db.internal/gateway")]
    [InlineData("sqlite", "postgres://gateway:Leak-Me-Not-77@db.internal/gateway")]
    [InlineData("Sqlite", "Host=db.internal;Database=gateway;Username=gateway;Password=Leak-Me-Not-77")]
    public void Database_SqliteWithAPostgresDatabase_IsRefusedWithoutThePassword(string provider, string url)
    {
        var validator = new DatabaseOptionsValidator(Microsoft.Extensions.Options.Options.Create(new AppOptions()), TestEnvironment.Development);

        var result = validator.Validate(null, new DatabaseOptions { Provider = provider, Url = url });

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith("DATABASE_URL names a PostgreSQL database, but Database:Provider is Sqlite", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("Leak-Me-Not-77", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("redis://:Pa55word@cache.internal:6380/2", "cache.internal:6380", 2, true)]
    [InlineData("rediss://default:Pa55word@cache.internal", "cache.internal:6379", null, true)]
    [InlineData("cache.internal:6379,password=Pa55word", "cache.internal:6379", null, true)]
    public void Redis_UrlForms_AreParsed(string url, string endpoint, int? database, bool hasPassword)
    {
        var options = RedisConnectionString.Parse(url);

        Assert.Equal(endpoint, options.EndPoints.Single().ToString()!.Replace("Unspecified/", "", StringComparison.Ordinal));
        Assert.Equal(database, options.DefaultDatabase);
        Assert.Equal(hasPassword, options.Password == "Pa55word");
        Assert.False(options.AbortOnConnectFail);
    }

    [Theory]
    [InlineData("http://cache:6379")]
    [InlineData("redis://:Pa55word@cache:6379/notanumber")]
    public void Redis_MalformedUrl_IsRefusedWithoutPassword(string url)
    {
        var result = new RedisOptionsValidator().Validate(null, new RedisOptions { Url = url });

        Assert.True(result.Failed);
        Assert.DoesNotContain("Pa55word", result.FailureMessage, StringComparison.Ordinal);
    }
}
