using System.Net;
using System.Net.Http.Json;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>Which limits apply: user override, else plan row, else plan; a key row narrows on top; refusals are recorded.</summary>
public sealed class LimitResolutionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task KeyOverride_NarrowsThatKeyOnly(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var (narrowId, narrow) = await NewKeyAsync(gateway, "narrow");
        var (_, other) = await NewKeyAsync(gateway, "other");
        await SetLimitsAsync(database, RateLimitScopes.Key, keyId: narrowId, rpm: 2);

        var first = await PostAsync(narrow, ChatBody(10));
        var second = await PostAsync(narrow, ChatBody(10));
        var third = await PostAsync(narrow, ChatBody(10));
        var otherKey = await PostAsync(other, ChatBody(10));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal(("2", "1"), (Header(first, "x-ratelimit-limit-requests"), Header(first, "x-ratelimit-remaining-requests")));
        var message = await AssertRefusalAsync(third, "requests", "rate_limit_exceeded");
        Assert.Contains("this API key", message, StringComparison.Ordinal);
        Assert.Contains("limit 2", message, StringComparison.Ordinal);

        // The other key only has the account's limits: the Enterprise plan's 1000 a minute, 3 taken.
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
        Assert.Equal("1000", Header(otherKey, "x-ratelimit-limit-requests"));
        Assert.InRange(LongHeader(otherKey, "x-ratelimit-remaining-requests"), 997, 999);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task KeyOverride_CannotWidenTheAccount(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 2);
        var (keyId, client) = await NewKeyAsync(gateway);
        await SetLimitsAsync(database, RateLimitScopes.Key, keyId: keyId, rpm: 100);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await PostAsync(client, ChatBody(10))).StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UserOverride_ReplacesThePlan_LimitByLimit(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);

        // Enterprise plan: 1000 rpm, 5 000 000 tpm. The plan's own row narrows both; the user's row
        // sets requests only, so tokens still come from the plan's row.
        await SetLimitsAsync(database, RateLimitScopes.Plan, planId: BillingPlanIds.Enterprise, rpm: 5, tpm: 7777);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 3);
        var (_, client) = await NewKeyAsync(gateway);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            responses.Add(await PostAsync(client, ChatBody(10)));
        }

        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests],
            responses.Select(r => r.StatusCode).ToArray());
        Assert.All(responses, r => Assert.Equal("3", Header(r, "x-ratelimit-limit-requests")));
        Assert.All(responses, r => Assert.Equal("7777", Header(r, "x-ratelimit-limit-tokens")));
        Assert.Contains("limit 3", await AssertRefusalAsync(responses[^1], "requests", "rate_limit_exceeded"), StringComparison.Ordinal);

        // Another user of the same plan gets the plan's row: 5 a minute.
        var planUser = await SignUpUserAsync(app);
        Assert.Equal(HttpStatusCode.OK, (await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{planUser.Id}"), new { plan = "enterprise" })).StatusCode);
        var (_, planKey) = await CreateKeyAsync(planUser.Client);
        var planResponse = await PostAsync(gateway.CreateKeyClient(planKey), ChatBody(10));
        Assert.Equal(HttpStatusCode.OK, planResponse.StatusCode);
        Assert.Equal(("5", "4", "7777"), (Header(planResponse, "x-ratelimit-limit-requests"), Header(planResponse, "x-ratelimit-remaining-requests"), Header(planResponse, "x-ratelimit-limit-tokens")));
    }

    [Fact]
    public async Task AdminOverride_AppliesToTheNextRequest_WithoutWaitingForTheCache()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: false));
        var gateway = await StartAsync(app, upstream);
        var (_, client) = await NewKeyAsync(gateway);

        var before = await PostAsync(client, ChatBody(10));
        var put = await gateway.Admin.Client.PutAsJsonAsync(Url($"/api/admin/rate-limits/users/{gateway.User.Id}"), new { requests_per_minute = 1 });
        var after = await PostAsync(client, ChatBody(10));

        Assert.Equal("1000", Header(before, "x-ratelimit-limit-requests"));
        Assert.True(put.IsSuccessStatusCode, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        Assert.Equal("1", Header(after, "x-ratelimit-limit-requests"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RefusedRequests_AreRecordedWith429AndTheirCode(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var (keyId, client) = await NewKeyAsync(gateway);
        var (quotaKeyId, quotaClient) = await NewKeyAsync(gateway, "tiny quota");
        await SetLimitsAsync(database, RateLimitScopes.Key, keyId: keyId, rpm: 1);
        await SetLimitsAsync(database, RateLimitScopes.Key, keyId: quotaKeyId, quota: 5);

        var admitted = await PostAsync(client, ChatBody(10));
        var refused = await PostAsync(client, ChatBody(10));
        var overQuota = await PostAsync(quotaClient, ChatBody(10));

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        await AssertRefusalAsync(refused, "requests", "rate_limit_exceeded");
        Assert.Contains("this API key", await AssertRefusalAsync(overQuota, "insufficient_quota", "insufficient_quota"), StringComparison.Ordinal);

        var ok = await UsageRowAsync(database, RequestId(admitted));
        var rpmRow = await UsageRowAsync(database, RequestId(refused));
        var quotaRow = await UsageRowAsync(database, RequestId(overQuota));
        Assert.Equal((200, (string?)null, 12), (ok.StatusCode, ok.ErrorCode, ok.TotalTokens));
        Assert.Equal((429, "rate_limit_exceeded", 0, keyId, (Guid?)null), (rpmRow.StatusCode, rpmRow.ErrorCode, rpmRow.TotalTokens, rpmRow.ApiKeyId!.Value, rpmRow.ServerId));
        Assert.Equal((429, "insufficient_quota", 0, quotaKeyId), (quotaRow.StatusCode, quotaRow.ErrorCode, quotaRow.TotalTokens, quotaRow.ApiKeyId!.Value));
        Assert.Equal(GatewayServer.Model, rpmRow.ModelRequested);
        Assert.Equal(1, upstream.ChatCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task QuotaSetLater_CountsThisMonthsEarlierUsage(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);

        // A customer without a quota (0 = none) who already used 5000 tokens this month, e.g. before
        // this instance started: the rollups know it.
        var customer = await SignUpUserAsync(app);
        await SetUserLimitsAsync(database, customer.Id, quota: 0);
        var (keyId, key) = await CreateKeyAsync(customer.Client);
        var client = gateway.CreateKeyClient(key);
        await using (var db = database.OpenContext())
        {
            db.UsageDaily.Add(new UsageDaily { UserId = customer.Id, ApiKeyId = keyId, Model = GatewayServer.Model, Day = DateOnly.FromDateTime(DateTime.UtcNow), Requests = 9, TotalTokens = 5000 });
            await db.SaveChangesAsync();
        }

        var unlimited = await PostAsync(client, ChatBody(10));
        Assert.Equal(HttpStatusCode.OK, unlimited.StatusCode);

        // The admin now gives the account a quota of 1000 tokens: the month's 5000 are already past it.
        var put = await gateway.Admin.Client.PutAsJsonAsync(Url($"/api/admin/rate-limits/users/{customer.Id}"), new { monthly_token_quota = 1000 });
        Assert.True(put.IsSuccessStatusCode, $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        var limited = await PostAsync(client, ChatBody(10));

        await AssertRefusalAsync(limited, "insufficient_quota", "insufficient_quota");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AccountConcurrency_CountsEveryKeyOfTheUser(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, concurrent: 1);
        var (_, first) = await NewKeyAsync(gateway, "first");
        var (_, second) = await NewKeyAsync(gateway, "second");
        upstream.StreamSlowly(8, TimeSpan.FromMilliseconds(150));

        using var running = await StartStreamAsync(first, ChatBody(10, stream: true));
        var refused = await PostAsync(second, ChatBody(10));

        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        Assert.Contains("your account", await AssertRefusalAsync(refused, "requests", "rate_limit_exceeded"), StringComparison.Ordinal);
        await running.Content.LoadIntoBufferAsync();
    }
}
