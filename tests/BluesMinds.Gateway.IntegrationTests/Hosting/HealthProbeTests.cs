using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;

namespace BluesMinds.Gateway.IntegrationTests.Hosting;

public sealed class HealthProbeTests
{
    private const string UnreachablePassword = "Unreachable-Pa55word-91";

    [Fact]
    public async Task Live_DatabaseUnreachable_StillReturns200()
    {
        await using var scratch = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await using var app = new GatewayApp(scratch, new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:Url"] = "postgres://gateway:x@127.0.0.1:1/unreachable_db?timeout=2",
            ["Database:MigrateOnStartup"] = "false",
        });
        var client = app.CreateClient();

        var response = await client.GetAsync(new Uri("/api/health/live", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("alive", body.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_MigratedDatabase_Returns200WithTheDatabaseCheck()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().GetAsync(new Uri("/api/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("healthy", body.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_PendingMigrations_Returns503NamingTheDatabase()
    {
        await using var database = await TestDatabase.CreateAsync();
        await database.CreateEmptyAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["Database:MigrateOnStartup"] = "false" });

        var response = await app.CreateClient().GetAsync(new Uri("/api/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = body.RootElement.GetProperty("checks").GetProperty("database");
        Assert.Equal("unhealthy", check.GetProperty("status").GetString());
        Assert.Contains("migration(s) pending", check.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_UnreachablePostgres_Returns503AndRevealsNoHostOrPassword()
    {
        await using var scratch = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await using var app = new GatewayApp(scratch, new Dictionary<string, string?>
        {
            ["Database:Provider"] = "Postgres",
            ["Database:Url"] = $"postgres://gateway:{UnreachablePassword}@127.0.0.1:1/unreachable_db?timeout=2",
            ["Database:MigrateOnStartup"] = "false",
        });
        var client = app.CreateClient();

        var ready = await client.GetAsync(new Uri("/api/health/ready", UriKind.Relative));
        var health = await client.GetAsync(new Uri("/api/health", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        foreach (var text in new[] { await ready.Content.ReadAsStringAsync(), await health.Content.ReadAsStringAsync() })
        {
            using var body = JsonDocument.Parse(text);
            Assert.Equal("unhealthy", body.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
            Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
            Assert.DoesNotContain(UnreachablePassword, text, StringComparison.Ordinal);
            Assert.DoesNotContain("unreachable_db", text, StringComparison.Ordinal);
            Assert.DoesNotContain("gateway:", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Health_Healthy_ReportsStatusVersionUptimeAndCheckLatencyButNoSecrets()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().GetAsync(new Uri("/api/health", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(text);
        var root = body.RootElement;
        Assert.Equal("healthy", root.GetProperty("status").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", root.GetProperty("version").GetString());
        Assert.True(root.GetProperty("uptime_seconds").GetInt64() >= 0);
        Assert.True(root.GetProperty("checks").GetProperty("database").GetProperty("latency_ms").GetDouble() >= 0);
        foreach (var secret in TestEnvironmentVariables.StrongSecrets.Values)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(database.Directory, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Environment.MachineName, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ready_WithRedis_ChecksRedisToo()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["REDIS_URL"] = TestEnvironmentVariables.RedisUrl });

        var response = await app.CreateClient().GetAsync(new Uri("/api/health/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("healthy", body.RootElement.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_UnreachableRedis_Returns503NamingRedis()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["REDIS_URL"] = "redis://:Redis-Pa55@127.0.0.1:1" });

        var response = await app.CreateClient().GetAsync(new Uri("/api/health/ready", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var body = JsonDocument.Parse(text);
        Assert.Equal("unhealthy", body.RootElement.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal("healthy", body.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.DoesNotContain("Redis-Pa55", text, StringComparison.Ordinal);
    }
}
