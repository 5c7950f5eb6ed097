using System.Net;
using System.Net.Http.Json;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>Two replicas on one database and one Redis enforce the limits once, not once each.</summary>
public sealed class MultiInstanceTests
{
    /// <summary>A second host on the same database and Redis, with a journal of its own, serving <paramref name="key"/>.</summary>
    private static async Task<(GatewayApp App, HttpClient Client)> SecondInstanceAsync(TestDatabase database, string key)
    {
        var app = new GatewayApp(database, Settings(redis: true, ("Usage:JournalPath", Path.Combine(database.Directory, "journal-instance-2.jsonl"))));
        var client = WithKey(app.CreateClient(), key);
        var listed = await PollAsync(
            () => client.GetAsync(Url("/api/v1/models")),
            async r => r.IsSuccessStatusCode && (await r.Content.ReadAsStringAsync()).Contains(GatewayServer.Model, StringComparison.Ordinal),
            TimeSpan.FromSeconds(5));
        Assert.True(listed.IsSuccessStatusCode, $"the second instance does not route: {Describe(listed)}");
        return (app, client);
    }

    [Fact]
    public async Task RequestsPerMinute_IsSharedAcrossInstances()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: true));
        var gateway = await StartAsync(app, upstream);
        const int Limit = 6;
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: Limit, tpm: 0, concurrent: 0, quota: 0);
        var (_, key) = await CreateKeyAsync(gateway.User.Client, extra: new { name = "shared" });
        var (app2, client2) = await SecondInstanceAsync(database, key);
        await using var _ = app2;
        var client1 = gateway.CreateKeyClient(key);

        var statuses = new List<(int Instance, HttpStatusCode Status, string? Remaining)>();
        for (var i = 0; i < 2 * Limit; i++)
        {
            var instance = i % 2;
            var response = await PostAsync(instance == 0 ? client1 : client2, ChatBody(10));
            statuses.Add((instance + 1, response.StatusCode, Header(response, "x-ratelimit-remaining-requests")));
        }

        var summary = string.Join(", ", statuses.Select(s => $"#{s.Instance}:{(int)s.Status}/{s.Remaining}"));
        Assert.True(statuses.Count(s => s.Status == HttpStatusCode.OK) == Limit, summary);
        Assert.True(statuses.Take(Limit).All(s => s.Status == HttpStatusCode.OK), summary);
        Assert.True(statuses.Skip(Limit).All(s => s.Status == HttpStatusCode.TooManyRequests), summary);

        // The counter is one: each answer reports what both instances have taken.
        Assert.Equal(
            Enumerable.Range(1, Limit).Select(taken => (Limit - taken).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            statuses.Take(Limit).Select(s => s.Remaining).ToArray());
        Assert.Equal(Limit, upstream.ChatCount);
    }

    [Fact]
    public async Task ConcurrentRequests_AreCountedAcrossInstances()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: true));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: 0, concurrent: 2, quota: 0);
        var (_, key) = await CreateKeyAsync(gateway.User.Client, extra: new { name = "shared" });
        var (app2, client2) = await SecondInstanceAsync(database, key);
        await using var _ = app2;
        var client1 = gateway.CreateKeyClient(key);

        upstream.StreamSlowly(10, TimeSpan.FromMilliseconds(150));
        using var onFirst = await StartStreamAsync(client1, ChatBody(10, stream: true));
        using var onSecond = await StartStreamAsync(client2, ChatBody(10, stream: true));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (onFirst.StatusCode, onSecond.StatusCode));

        // Two slots are taken, one on each instance: a third request is refused on either.
        var refused1 = await PostAsync(client1, ChatBody(10));
        var refused2 = await PostAsync(client2, ChatBody(10));
        Assert.Contains("concurrent", await AssertRefusalAsync(refused1, "requests", "rate_limit_exceeded"), StringComparison.Ordinal);
        Assert.Contains("concurrent", await AssertRefusalAsync(refused2, "requests", "rate_limit_exceeded"), StringComparison.Ordinal);

        // When the stream on the second instance ends, its slot is free for the first instance.
        await onSecond.Content.LoadIntoBufferAsync();
        upstream.RespondNormally();
        var after = await PollAsync(() => PostAsync(client1, ChatBody(10)), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(2));
        Assert.True(after.StatusCode == HttpStatusCode.OK, $"the slot was not freed: {Describe(after)} {await after.Content.ReadAsStringAsync()}");
        await onFirst.Content.LoadIntoBufferAsync();
    }

    [Fact]
    public async Task MonthlyQuota_IsSharedAcrossInstances()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: true));
        var gateway = await StartAsync(app, upstream);
        var body = ChatBody(20, stream: true);
        var reservation = await MeasureReservationAsync(gateway, body);
        upstream.StreamSlowly((int)reservation - 5, TimeSpan.FromMilliseconds(40));
        const int Fits = 6;
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: 0, concurrent: 0, quota: (Fits * reservation) + reservation - 1);
        var (_, key) = await CreateKeyAsync(gateway.User.Client, extra: new { name = "shared" });
        var (app2, client2) = await SecondInstanceAsync(database, key);
        await using var _ = app2;
        var client1 = gateway.CreateKeyClient(key);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => StreamToEndAsync(i % 2 == 0 ? client1 : client2, body)));

        var summary = string.Join(", ", results.GroupBy(r => r.StatusCode).Select(g => $"{(int)g.Key}×{g.Count()}"));
        Assert.True(results.Count(r => r.StatusCode == HttpStatusCode.OK) == Fits, summary);
        Assert.All(results.Where(r => r.StatusCode != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode));
    }

    [Fact]
    public async Task AdminLimitChange_OnOneInstance_AppliesOnTheOtherAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: true));
        var gateway = await StartAsync(app, upstream);
        var (_, key) = await CreateKeyAsync(gateway.User.Client, extra: new { name = "shared" });
        var (app2, client2) = await SecondInstanceAsync(database, key);
        await using var _ = app2;

        // The second instance has the key's policy cached (Enterprise: 1000 a minute).
        var cached = await PostAsync(client2, ChatBody(10));
        Assert.Equal("1000", Header(cached, "x-ratelimit-limit-requests"));

        // A user override, then a plan override, made through the first instance's admin API.
        var user = await gateway.Admin.Client.PutAsJsonAsync(Url($"/api/admin/rate-limits/users/{gateway.User.Id}"), new { requests_per_minute = 7 });
        Assert.True(user.IsSuccessStatusCode, $"{(int)user.StatusCode} {await user.Content.ReadAsStringAsync()}");
        var afterUser = await PollAsync(() => client2.GetAsync(Url("/api/v1/models")), r => Header(r, "x-ratelimit-limit-requests") == "7", TimeSpan.FromSeconds(2));
        Assert.Equal("7", Header(afterUser, "x-ratelimit-limit-requests"));

        var plan = await gateway.Admin.Client.PutAsJsonAsync(Url($"/api/admin/rate-limits/plans/{BillingPlanIds.Enterprise}"), new { tokens_per_minute = 77_777 });
        Assert.True(plan.IsSuccessStatusCode, $"{(int)plan.StatusCode} {await plan.Content.ReadAsStringAsync()}");
        var afterPlan = await PollAsync(() => client2.GetAsync(Url("/api/v1/models")), r => Header(r, "x-ratelimit-limit-tokens") == "77777", TimeSpan.FromSeconds(2));
        Assert.Equal(("7", "77777"), (Header(afterPlan, "x-ratelimit-limit-requests"), Header(afterPlan, "x-ratelimit-limit-tokens")));
    }
}
