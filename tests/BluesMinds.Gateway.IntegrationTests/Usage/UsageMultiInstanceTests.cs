using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>Two instances on one database: each has its own journal, and their rollups add up.</summary>
public sealed class UsageMultiInstanceTests
{
    private static async Task<HttpClient> RoutableKeyClientAsync(GatewayApp app, string key)
    {
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        Assert.True(
            await EventuallyAsync(async () => (await client.GetStringAsync(Url("/api/v1/models"))).Contains($"\"{Model}\"", StringComparison.Ordinal), TimeSpan.FromSeconds(10)),
            "the second instance never routed the model");
        return client;
    }

    [Fact]
    public async Task TwoInstancesWritingTheSameDailyRowAtOnce_LoseNoIncrement()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var first = new GatewayApp(database, Settings());
        var gateway = await StartAsync(first);
        await gateway.AddServerAsync(upstream);
        var secondJournal = Path.Combine(database.Directory, "second-instance", "usage.jsonl");
        await using var second = new GatewayApp(database, Settings(("USAGE_JOURNAL_PATH", secondJournal)));
        var viaFirst = gateway.CreateKeyClient();
        var viaSecond = await RoutableKeyClientAsync(second, gateway.Key);
        Assert.True(File.Exists(secondJournal), "USAGE_JOURNAL_PATH places the second instance's journal");

        var requests = Enumerable.Range(0, 40).Select(i => ChatOkAsync(i % 2 == 0 ? viaFirst : viaSecond)).ToList();
        var ids = await Task.WhenAll(requests);

        var rows = await WaitForRowsAsync(database, ids);
        Assert.Equal(40, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        var daily = Assert.Single(await DailyAsync(database));
        Assert.Equal((40L, 40L * 12), (daily.Requests, daily.TotalTokens));
    }

    [Fact]
    public async Task APriceSetOnOneInstance_PricesTheNextRequestOnAnother_ThroughRedis()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var redis = ("REDIS_URL", (string?)TestEnvironmentVariables.RedisUrl);
        await using var first = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(first);
        await gateway.AddServerAsync(upstream);
        await using var second = new GatewayApp(database, Settings(redis, ("USAGE_JOURNAL_PATH", "second-usage-journal.jsonl")));
        var viaSecond = await RoutableKeyClientAsync(second, gateway.Key);
        var unpriced = await ChatOkAsync(viaSecond);

        await UsageCostTests.SetPriceAsync(gateway, Model, input: 1_000_000, output: 1_000_000);

        // The change is announced at once; the 60-second reload is only a backstop.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var priced = new List<string>();
        long cost;
        do
        {
            var id = await ChatOkAsync(viaSecond);
            priced.Add(id);
            cost = (await WaitForRowsAsync(database, [id])).Single(r => r.RequestId == id).CostMicros;
        }
        while (cost == 0 && DateTime.UtcNow < deadline);

        Assert.Equal(12L, cost);
        Assert.Equal(0L, (await LogsAsync(database)).Single(r => r.RequestId == unpriced).CostMicros);
    }
}
