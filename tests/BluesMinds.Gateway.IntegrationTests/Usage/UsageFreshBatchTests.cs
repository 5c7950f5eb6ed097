using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.DependencyInjection;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// A batch from the queue is taken to be new, and the embedded database inserts it without asking
/// which rows were new. Should one of its request ids be stored already after all, nothing may
/// count twice: the stored row stays as it was, and every request is rolled up once.
/// </summary>
public sealed class UsageFreshBatchTests
{
    [Fact]
    public async Task AFreshBatchHoldingAStoredRequestId_KeepsTheStoredRow_StoresTheRest_AndRollsUpEachRequestOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var store = app.Services.GetRequiredService<UsageStore>();
        var (user, key) = (Guid.NewGuid(), Guid.NewGuid());
        await store.InsertAsync([Record("req_stored", user, key, promptTokens: 7)], fresh: true);

        // 120 rows go in four statements (50, 50, 16, 4); the stored id is in the third, after two
        // statements' rows are in.
        var batch = Enumerable.Range(0, 120).Select(i => Record($"req_new_{i:D3}", user, key, promptTokens: 10)).ToList();
        batch[110] = Record("req_stored", user, key, promptTokens: 1_000);
        await store.InsertAsync(batch, fresh: true);

        var logs = await LogsAsync(database);
        AssertExactlyOnce(logs, batch.Select(r => r.RequestId));
        Assert.Equal(120, logs.Count);
        Assert.Equal(7, logs.Single(r => r.RequestId == "req_stored").PromptTokens);
        await AssertRollupsMatchLogsAsync(database);
        var daily = Assert.Single(await DailyAsync(database));
        Assert.Equal(120, daily.Requests);
        Assert.Equal(7 + (119 * 10), daily.PromptTokens);
    }

    [Fact]
    public async Task AFreshBatchOfNewRecords_IsStoredAndRolledUpLikeAnyOther()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var store = app.Services.GetRequiredService<UsageStore>();
        var (user, key) = (Guid.NewGuid(), Guid.NewGuid());
        var batch = Enumerable.Range(0, 75).Select(i => Record($"req_{i:D3}", user, key, promptTokens: i)).ToList();

        await store.InsertAsync(batch, fresh: true);
        // The same records again, as a replay of the journal would bring them: nothing changes.
        await store.InsertAsync(batch, fresh: false);

        var logs = await LogsAsync(database);
        AssertExactlyOnce(logs, batch.Select(r => r.RequestId));
        Assert.Equal(75, logs.Count);
        await AssertRollupsMatchLogsAsync(database);
        var daily = Assert.Single(await DailyAsync(database));
        Assert.Equal(75, daily.Requests);
        Assert.Equal(Enumerable.Range(0, 75).Sum(), daily.PromptTokens);
    }

    private static UsageRecord Record(string requestId, Guid user, Guid key, int promptTokens) => new()
    {
        RequestId = requestId,
        Endpoint = "chat.completions",
        UserId = user,
        ApiKeyId = key,
        ModelRequested = "gpt-4o-mini",
        PromptTokens = promptTokens,
        TotalTokens = promptTokens,
        StatusCode = 200,
        CreatedAt = DateTime.UtcNow,
    };
}
