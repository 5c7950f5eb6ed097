using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>
/// Redis taken away from one gateway (a TCP proxy cut): <c>closed</c> refuses with 503 and fails
/// readiness, <c>open</c> falls back to the in-process limiter and stays ready; both go back to the
/// shared counters when Redis answers again.
/// </summary>
public sealed class RedisOutageTests
{
    private static readonly TimeSpan Reconnect = TimeSpan.FromSeconds(12);

    private static async Task<(int Status, JsonElement Body)> ReadyAsync(GatewayApp app)
    {
        var response = await app.CreateClient().GetAsync(Url("/api/health/ready"));
        return ((int)response.StatusCode, await JsonAsync(response));
    }

    private static string RedisStatus(JsonElement ready) =>
        ready.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString()!;

    [Fact]
    public async Task ClosedMode_RefusesWith503AndIsNotReady_ThenRecovers()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var proxy = TcpProxy.For(TestEnvironmentVariables.RedisUrl);
        await using var app = new GatewayApp(database, GatewayServer.Settings(("REDIS_URL", proxy.Rewrite(TestEnvironmentVariables.RedisUrl))));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 3, tpm: 0, concurrent: 0, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);

        var before = await PostAsync(client, ChatBody(10));
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal("2", Header(before, "x-ratelimit-remaining-requests"));
        Assert.Equal(200, (await ReadyAsync(app)).Status);

        proxy.Cut();
        var clock = Stopwatch.StartNew();
        var during = await PostAsync(client, ChatBody(10));
        var refusedIn = clock.Elapsed;

        await AssertRefusalAsync(during, "server_error", "rate_limiter_unavailable", status: HttpStatusCode.ServiceUnavailable);
        Assert.True(refusedIn < TimeSpan.FromSeconds(6), $"the refusal took {refusedIn}");
        Assert.Equal(1, upstream.ChatCount);
        var (status, ready) = await ReadyAsync(app);
        Assert.True(status == 503, $"readiness {status}: {ready}");
        Assert.Equal("unhealthy", RedisStatus(ready));

        proxy.Restore();
        var back = await PollAsync(() => PostAsync(client, ChatBody(10)), r => r.StatusCode == HttpStatusCode.OK, Reconnect, 200);

        // The shared counter kept its state: one taken before the outage, one now.
        Assert.True(back.StatusCode == HttpStatusCode.OK, $"Redis did not come back: {Describe(back)}");
        Assert.Equal("1", Header(back, "x-ratelimit-remaining-requests"));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, ChatBody(10))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostAsync(client, ChatBody(10))).StatusCode);
        Assert.Equal(200, (await ReadyAsync(app)).Status);
    }

    [Fact]
    public async Task OpenMode_FallsBackToTheInstancesOwnLimits_StaysReady_ThenReturnsToRedis()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var proxy = TcpProxy.For(TestEnvironmentVariables.RedisUrl);
        await using var app = new GatewayApp(database, GatewayServer.Settings(
            ("REDIS_URL", proxy.Rewrite(TestEnvironmentVariables.RedisUrl)),
            ("RateLimits:RedisFailureMode", "open")));
        var gateway = await StartAsync(app, upstream);
        const int Limit = 4;
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: Limit, tpm: 0, concurrent: 0, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);

        var before = await PostAsync(client, ChatBody(10));
        Assert.Equal("3", Header(before, "x-ratelimit-remaining-requests"));

        proxy.Cut();
        var during = new List<HttpResponseMessage>();
        for (var i = 0; i <= Limit; i++)
        {
            during.Add(await PostAsync(client, ChatBody(10)));
        }

        // The in-process limiter starts with a full bucket of its own: N admitted, the N+1th refused.
        var summary = string.Join(", ", during.Select(Describe));
        Assert.True(during.Take(Limit).All(r => r.StatusCode == HttpStatusCode.OK), summary);
        Assert.Equal(["3", "2", "1", "0"], during.Take(Limit).Select(r => Header(r, "x-ratelimit-remaining-requests")).ToArray());
        await AssertRefusalAsync(during[^1], "requests", "rate_limit_exceeded");

        // Back on Redis, whose bucket still holds the 3 left before the outage (the model list takes nothing).
        proxy.Restore();
        var peek = await PollAsync(
            () => client.GetAsync(Url("/api/v1/models")),
            r => Header(r, "x-ratelimit-remaining-requests") is "3" or "4",
            Reconnect,
            200);
        Assert.True(Header(peek, "x-ratelimit-remaining-requests") is "3" or "4", $"Redis did not come back: {Describe(peek)}");
        var after = await PostAsync(client, ChatBody(10));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.InRange(LongHeader(after, "x-ratelimit-remaining-requests"), 2, 3);
    }

    [Fact]
    public async Task OpenMode_ReadinessIsDegradedButReady_WhileRedisIsAway()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var proxy = TcpProxy.For(TestEnvironmentVariables.RedisUrl);
        await using var app = new GatewayApp(database, GatewayServer.Settings(
            ("REDIS_URL", proxy.Rewrite(TestEnvironmentVariables.RedisUrl)),
            ("RateLimits:RedisFailureMode", "open")));
        var (healthyStatus, healthy) = await ReadyAsync(app);
        Assert.True(healthyStatus == 200 && RedisStatus(healthy) == "healthy", $"readiness {healthyStatus}: {healthy}");

        // Probed as an orchestrator does, several times while Redis stays away (the client keeps
        // trying to reconnect meanwhile).
        proxy.Cut();
        for (var probe = 1; probe <= 3; probe++)
        {
            await Task.Delay(500);
            var clock = Stopwatch.StartNew();
            var (status, ready) = await ReadyAsync(app);
            Assert.True(status == 200, $"probe {probe} after the cut, {clock.ElapsedMilliseconds} ms: readiness {status}: {ready}");
            Assert.Equal("degraded", ready.GetProperty("status").GetString());
            Assert.Equal("degraded", RedisStatus(ready));
            Assert.Contains("per instance", ready.GetProperty("checks").GetProperty("redis").GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        proxy.Restore();
        var back = await PollAsync(() => app.CreateClient().GetAsync(Url("/api/health/ready")), async r => RedisStatus(await JsonAsync(r)) == "healthy", Reconnect, 200);
        Assert.Equal("healthy", RedisStatus(await JsonAsync(back)));
    }
}
