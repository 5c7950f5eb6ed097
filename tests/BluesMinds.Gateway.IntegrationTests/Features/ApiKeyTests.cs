using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Features;

public sealed class ApiKeyTests
{
    private static ValueTask<ApiKeyResolution> ResolveAsync(GatewayApp app, string key) =>
        app.Services.GetRequiredService<ApiKeyLookup>().ResolveAsync(key, CancellationToken.None);

    [Fact]
    public async Task Create_ShowsTheKeyOnceAndListsOnlyItsPrefixAndLastFour()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        var create = await user.Client.PostAsJsonAsync(Url("/api/keys"), new { name = "production", allowed_models = new[] { "gpt-4o", "gpt-4o" }, expires_at = DateTime.UtcNow.AddDays(30) });
        var created = await JsonAsync(create);
        var key = created.GetProperty("key").GetString()!;
        var listText = await (await user.Client.GetAsync(Url("/api/keys"))).Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        Assert.Matches("^bm_[0-9A-Za-z]{43}$", key);
        Assert.Equal(key[..7], created.GetProperty("prefix").GetString());
        Assert.Equal(["gpt-4o"], created.GetProperty("allowed_models").EnumerateArray().Select(m => m.GetString()));
        Assert.DoesNotContain(key, listText, StringComparison.Ordinal);
        Assert.DoesNotContain(key[7..^4], listText, StringComparison.Ordinal);
        Assert.Contains($"\"last_four\":\"{key[^4..]}\"", listText, StringComparison.Ordinal);
        Assert.Contains("\"last_used_at\":null", listText, StringComparison.Ordinal);
        Assert.True((await ResolveAsync(app, key)).IsActive);
    }

    public static TheoryData<string, string> BadKeyBodies => new()
    {
        { "{}", "name is required" },
        { "{\"name\":\"   \"}", "name is required" },
        { "{\"name\":\"" + new string('k', 101) + "\"}", "at most 100 characters" },
        { "{\"name\":\"ok\",\"expires_at\":\"2020-01-01T00:00:00Z\"}", "expires_at must be in the future" },
        { "{\"name\":\"ok\",\"expires_at\":\"next tuesday\"}", "$.expires_at" },
        { "{\"name\":\"ok\",\"allowed_models\":\"gpt-4o\"}", "$.allowed_models" },
        { "{\"name\":\"ok\",\"allowed_models\":[\"gpt-4o\",\"bad\\u0007model\"]}", "control or invisible" },
        { "{\"name\":\"ok\",\"allowed_models\":[" + string.Join(",", Enumerable.Range(0, 101).Select(i => $"\"m{i}\"")) + "]}", "at most 100 models" },
        { "{\"name\":", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadKeyBodies))]
    public async Task Create_BadInput_Returns400AndStoresNothing(string json, string expected)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        var response = await user.Client.PostAsync(Url("/api/keys"), new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        Assert.Equal(0, await db.ApiKeys.CountAsync());
    }

    [Fact]
    public async Task Rotate_NewSecretWorksAndTheOldOneStopsAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var (id, oldKey) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(app, oldKey)).IsActive);

        var rotate = await user.Client.PostAsync(Url($"/api/keys/{id}/rotate"), null);
        var newKey = (await JsonAsync(rotate)).GetProperty("key").GetString()!;

        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        Assert.NotEqual(oldKey, newKey);
        Assert.Equal(ApiKeyStatus.Unknown, (await ResolveAsync(app, oldKey)).Status);
        var resolved = await ResolveAsync(app, newKey);
        Assert.True(resolved.IsActive);
        Assert.Equal(id, resolved.Key!.KeyId);
    }

    [Fact]
    public async Task Revoke_CachedKeyIsRefusedAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var (id, key) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(app, key)).IsActive);

        var revoke = await user.Client.DeleteAsync(Url($"/api/keys/{id}"));

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        Assert.Equal(ApiKeyStatus.Revoked, (await ResolveAsync(app, key)).Status);
        Assert.DoesNotContain(id.ToString(), await (await user.Client.GetAsync(Url("/api/keys"))).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await user.Client.DeleteAsync(Url($"/api/keys/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await user.Client.PostAsync(Url($"/api/keys/{id}/rotate"), null)).StatusCode);
    }

    [Fact]
    public async Task Expiry_CachedKeyStopsWhenItsTimeComes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var (_, key) = await CreateKeyAsync(user.Client, extra: new { name = "short-lived", expires_at = DateTime.UtcNow.AddSeconds(2) });
        Assert.True((await ResolveAsync(app, key)).IsActive);

        await Task.Delay(TimeSpan.FromSeconds(2.2));

        Assert.Equal(ApiKeyStatus.Expired, (await ResolveAsync(app, key)).Status);
        Assert.Contains("\"status\":\"expired\"", await (await user.Client.GetAsync(Url("/api/keys"))).Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherUsersKeys_CannotBeListedRotatedOrRevoked()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var owner = await SignUpUserAsync(app);
        var stranger = await SignUpUserAsync(app);
        var (id, key) = await CreateKeyAsync(owner.Client, "owner's key");

        var list = await (await stranger.Client.GetAsync(Url("/api/keys"))).Content.ReadAsStringAsync();
        var rotate = await stranger.Client.PostAsync(Url($"/api/keys/{id}/rotate"), null);
        var revoke = await stranger.Client.DeleteAsync(Url($"/api/keys/{id}"));

        Assert.DoesNotContain(id.ToString(), list, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, rotate.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, revoke.StatusCode);
        Assert.True((await ResolveAsync(app, key)).IsActive);
        await using var db = database.OpenContext();
        Assert.Null((await db.ApiKeys.SingleAsync()).RevokedAt);
    }

    [Fact]
    public async Task Keys_WithoutASession_Return401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(Url("/api/keys"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync(Url("/api/keys"), new { name = "x" })).StatusCode);
    }

    [Fact]
    public async Task Resolve_KnownKey_AnswersFromMemoryWithoutADatabaseCall()
    {
        await using var database = await TestDatabase.CreateAsync();
        // The background last-used flush is a database command of its own; keep it out of the count.
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["ApiKeys:LastUsedFlushSeconds"] = "3600" });
        var user = await SignUpUserAsync(app);
        var (_, key) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(app, key)).IsActive);
        var counter = app.DatabaseCommands;
        var before = counter.Count;

        for (var i = 0; i < 100; i++)
        {
            Assert.True((await ResolveAsync(app, key)).IsActive);
        }

        Assert.Equal(before, counter.Count);
        Assert.Equal(ApiKeyStatus.Unknown, (await ResolveAsync(app, "bm_" + new string('Z', 43))).Status);
        Assert.Equal(ApiKeyStatus.Unknown, (await ResolveAsync(app, "bm_" + new string('Z', 43))).Status);
        Assert.Equal(before + 1, counter.Count);
        Assert.Equal(ApiKeyStatus.Malformed, (await ResolveAsync(app, "sk-not-ours")).Status);
        Assert.Equal(before + 1, counter.Count);
    }

    /// <summary>A host whose known keys are re-read after one second and whose last-used flush stays out of the command counts.</summary>
    private static GatewayApp ShortKeyCacheApp(TestDatabase database) => new(database, new Dictionary<string, string?>
    {
        ["ApiKeys:CacheSeconds"] = "1",
        ["ApiKeys:LastUsedFlushSeconds"] = "3600",
    });

    private static async Task RevokeBehindTheApiAsync(TestDatabase database, Guid keyId)
    {
        await using var db = database.OpenContext();
        await db.ApiKeys.Where(k => k.Id == keyId).ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, DateTime.UtcNow), TestContext.Current.CancellationToken);
    }

    /// <summary>Resolves every 50 ms, for at most 5 s, until the key no longer answers as active.</summary>
    private static async Task<ApiKeyStatus> ResolveWhileActiveAsync(GatewayApp app, string key)
    {
        var status = ApiKeyStatus.Active;
        for (var i = 0; i < 100 && status == ApiKeyStatus.Active; i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
            status = (await ResolveAsync(app, key)).Status;
        }

        return status;
    }

    [Fact]
    public async Task Resolve_AfterTheCacheLifetime_AnswersFromMemoryWhileOneBackgroundReadRefreshesIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = ShortKeyCacheApp(database);
        var user = await SignUpUserAsync(app);
        var (id, key) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(app, key)).IsActive);

        // Revoked behind the API's back (no invalidation): only the refresh can notice it.
        await RevokeBehindTheApiAsync(database, id);

        await Task.Delay(TimeSpan.FromSeconds(1.2), TestContext.Current.CancellationToken);
        var counter = app.DatabaseCommands;
        var before = counter.Count;

        // Twenty requests at once after the lifetime, while the database has not answered the refresh
        // yet (its read is held): all answered from memory, and one read between them.
        ApiKeyResolution[] answers;
        using (counter.Hold())
        {
            answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => ResolveAsync(app, key).AsTask()));
        }

        Assert.All(answers, a => Assert.Equal(ApiKeyStatus.Active, a.Status));

        Assert.Equal(ApiKeyStatus.Revoked, await ResolveWhileActiveAsync(app, key));
        Assert.Equal(before + 1, counter.Count);
    }

    [Fact]
    public async Task Resolve_WhileTheRefreshCannotReadTheDatabase_KeepsTheCachedStateAndRetriesOnTheNextRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = ShortKeyCacheApp(database);
        var user = await SignUpUserAsync(app);
        var (id, key) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(app, key)).IsActive);

        async Task SqlAsync(string sql)
        {
            await using var db = database.OpenContext();
            await db.Database.ExecuteSqlRawAsync(sql, TestContext.Current.CancellationToken);
        }

        // Revoked behind the API's back, and the table out of reach: every refresh fails.
        await RevokeBehindTheApiAsync(database, id);

        await SqlAsync("ALTER TABLE api_keys RENAME TO api_keys_away");
        await Task.Delay(TimeSpan.FromSeconds(1.2), TestContext.Current.CancellationToken);
        var counter = app.DatabaseCommands;
        var before = counter.Count;
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ApiKeyStatus.Active, (await ResolveAsync(app, key)).Status);
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        // Each failed refresh let the next request start another one.
        Assert.True(counter.Count >= before + 2, $"{counter.Count - before} refresh reads after three requests");

        await SqlAsync("ALTER TABLE api_keys_away RENAME TO api_keys");
        Assert.Equal(ApiKeyStatus.Revoked, await ResolveWhileActiveAsync(app, key));
    }

    [Fact]
    public async Task ASessionToken_SentToTheGatewayRoutes_IsRefusedAsAnApiKey_WithoutRunningTheSessionScheme()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        Assert.Equal(HttpStatusCode.OK, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        var before = app.DatabaseCommands.Count;

        for (var i = 0; i < 20; i++)
        {
            var response = await user.Client.GetAsync(Url("/api/v1/models"));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("invalid_api_key", (await JsonAsync(response)).GetProperty("error").GetProperty("code").GetString());
        }

        // A session check is a database query; the gateway routes never make one.
        Assert.Equal(before, app.DatabaseCommands.Count);
        Assert.Equal(HttpStatusCode.OK, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        Assert.True(app.DatabaseCommands.Count > before);
    }

    [Fact]
    public async Task LastUsedAt_IsWrittenInTheBackground()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var (id, key) = await CreateKeyAsync(user.Client);

        await ResolveAsync(app, key);

        DateTime? lastUsed = null;
        for (var i = 0; i < 50 && lastUsed is null; i++)
        {
            await Task.Delay(100);
            await using var db = database.OpenContext();
            lastUsed = (await db.ApiKeys.SingleAsync(k => k.Id == id)).LastUsedAt;
        }

        Assert.NotNull(lastUsed);
        Assert.InRange(lastUsed.Value, DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddSeconds(1));
    }

    [Fact]
    public async Task SuspendedOrDeletedUsersKeys_AreRefusedAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var suspended = await SignUpUserAsync(app);
        var deleted = await SignUpUserAsync(app);
        var (_, suspendedKey) = await CreateKeyAsync(suspended.Client);
        var (_, deletedKey) = await CreateKeyAsync(deleted.Client);
        Assert.True((await ResolveAsync(app, suspendedKey)).IsActive);
        Assert.True((await ResolveAsync(app, deletedKey)).IsActive);

        Assert.Equal(HttpStatusCode.OK, (await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{suspended.Id}"), new { status = "suspended" })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.Client.DeleteAsync(Url($"/api/admin/users/{deleted.Id}"))).StatusCode);

        Assert.Equal(ApiKeyStatus.UserSuspended, (await ResolveAsync(app, suspendedKey)).Status);
        Assert.NotEqual(ApiKeyStatus.Active, (await ResolveAsync(app, deletedKey)).Status);

        Assert.Equal(HttpStatusCode.OK, (await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{suspended.Id}"), new { status = "active" })).StatusCode);
        Assert.True((await ResolveAsync(app, suspendedKey)).IsActive);
    }

    [Fact]
    public async Task Revoke_OnOneInstance_ReachesAnotherInstanceThroughRedisWithinASecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        var redis = new Dictionary<string, string?> { ["REDIS_URL"] = TestEnvironmentVariables.RedisUrl, ["ApiKeys:CacheSeconds"] = "600" };
        await using var first = new GatewayApp(database, redis);
        await using var second = new GatewayApp(database, redis);
        var user = await SignUpUserAsync(first);
        var (id, key) = await CreateKeyAsync(user.Client);
        Assert.True((await ResolveAsync(second, key)).IsActive);
        // Let the second instance's subscription settle before the change is published.
        await Task.Delay(300);

        Assert.Equal(HttpStatusCode.NoContent, (await user.Client.DeleteAsync(Url($"/api/keys/{id}"))).StatusCode);

        var status = ApiKeyStatus.Active;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (status == ApiKeyStatus.Active && watch.Elapsed < TimeSpan.FromSeconds(1))
        {
            await Task.Delay(20);
            status = (await ResolveAsync(second, key)).Status;
        }

        Assert.Equal(ApiKeyStatus.Revoked, status);
    }

    [Fact]
    public async Task Database_AfterAFullFlow_HoldsNoPlaintextKeyOrPassword()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app, password: "Plaintext-Canary-Password-1");
        var (id, first) = await CreateKeyAsync(user.Client);
        var rotated = (await JsonAsync(await user.Client.PostAsync(Url($"/api/keys/{id}/rotate"), null))).GetProperty("key").GetString()!;
        var (revokedId, revoked) = await CreateKeyAsync(user.Client, "to revoke");
        await user.Client.DeleteAsync(Url($"/api/keys/{revokedId}"));
        await ResolveAsync(app, rotated);
        await LoginAsync(app.CreateClient(), user.Email, "Wrong-Canary-Password-2");

        var secrets = new[] { first, rotated, revoked, "Plaintext-Canary-Password-1", "Wrong-Canary-Password-2" };
        var tables = await database.TableNamesAsync();
        foreach (var table in tables.Where(t => Regex.IsMatch(t, "^[a-z_]+$")))
        {
            foreach (var row in await database.QueryAsync($"SELECT * FROM {table}"))
            {
                foreach (var value in row)
                {
                    foreach (var secret in secrets)
                    {
                        Assert.DoesNotContain(secret, value, StringComparison.Ordinal);
                        // Random parts too: a key must not be stored in pieces.
                        Assert.DoesNotContain(secret[^20..], value, StringComparison.Ordinal);
                    }
                }
            }
        }

        await using var db = database.OpenContext();
        Assert.StartsWith("$2", (await db.Users.SingleAsync()).PasswordHash, StringComparison.Ordinal);
    }
}
