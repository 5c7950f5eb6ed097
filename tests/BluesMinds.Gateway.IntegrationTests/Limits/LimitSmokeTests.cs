using System.Net;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

public sealed class LimitSmokeTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RequestsPerMinute_AdmitsTheLimitThenRefuses(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var settings = redis ? Settings(("REDIS_URL", TestEnvironmentVariables.RedisUrl)) : Settings();
        await using var app = new GatewayApp(database, settings);
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        await using (var db = database.OpenContext())
        {
            db.RateLimits.Add(new RateLimit { Id = Guid.NewGuid(), Scope = RateLimitScopes.User, UserId = gateway.User.Id, RequestsPerMinute = 3, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        var key = (await CreateKeyAsync(gateway.User.Client, extra: new { name = "fresh" })).Key;
        var client = gateway.CreateKeyClient(key);
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? last = null;
        for (var i = 0; i < 5; i++)
        {
            last = await gateway.ChatAsync(client: client);
            statuses.Add(last.StatusCode);
        }

        var text = await last!.Content.ReadAsStringAsync();
        Assert.True(statuses.Count(s => s == HttpStatusCode.OK) == 3, string.Join(",", statuses) + " " + text);
        Assert.Equal(HttpStatusCode.TooManyRequests, last.StatusCode);
        Assert.Contains("rate_limit_exceeded", text, StringComparison.Ordinal);
        Assert.Equal("3", last.Headers.GetValues("x-ratelimit-limit-requests").Single());
        Assert.Equal("0", last.Headers.GetValues("x-ratelimit-remaining-requests").Single());
        Assert.NotNull(last.Headers.RetryAfter);
    }
}
