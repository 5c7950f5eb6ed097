using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.DependencyInjection;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// When the usage queue is full, a finishing request waits for room instead of dropping its record.
/// The writer is held inside an insert (a lock the test owns), and the queue is filled in memory with
/// records that the store skips as replays, so no 50,000-request flood is needed.
/// </summary>
public sealed class UsageBackPressureTests
{
    [Fact]
    public async Task FullQueue_MakesTheNextRecordWait_AndNothingIsDroppedOnceTheWriterMovesOn()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();
        var queue = app.Services.GetRequiredService<UsageQueue>();
        var warmUp = await ChatOkAsync(client);
        await WaitForRowsAsync(database, [warmUp]);

        string stalled;
        Task<string> waiting;
        Task blocked;
        var extra = new UsageRecord { RequestId = $"extra-{Guid.NewGuid():N}", Endpoint = "chat.completions", StatusCode = 200, CreatedAt = DateTime.UtcNow };
        await using (await HoldUsageWriteLockAsync(database))
        {
            // The writer takes this record, journals it and waits for the lock inside its insert.
            stalled = await ChatOkAsync(client);
            await WaitForJournalAsync(database, [stalled]);
            Assert.True(await EventuallyAsync(() => Task.FromResult(queue.Reader.Count == 0), TimeSpan.FromSeconds(5)));

            // Fill the queue to its capacity with replays of the warm-up record (skipped by the store).
            for (var i = 0; i < UsageQueue.Capacity; i++)
            {
                Assert.True(FoundRoom(queue.EnqueueAsync(Replay(warmUp))), $"record {i} should have found room");
            }

            Assert.Equal(UsageQueue.Capacity, queue.Reader.Count);
            blocked = queue.EnqueueAsync(extra).AsTask();
            waiting = ChatOkAsync(client);
            await Task.Delay(500);

            Assert.False(blocked.IsCompleted, "a record finding the queue full waits for room");
            Assert.Equal(UsageQueue.Capacity, queue.Reader.Count);
            Assert.True(await upstream.WaitForRequestsAsync(FakeUpstream.ChatPath, 3, TimeSpan.FromSeconds(5)), "the request itself was forwarded");
        }

        // The lock is gone: the writer drains the queue and the waiting records get in. The last two
        // rows come after the 50,000 replays, which take seconds alone and far longer when the whole
        // suite shares two cores with the database: the limits bound a wait, not the writer's speed.
        await blocked.WaitAsync(TimeSpan.FromSeconds(60));
        var last = await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        var rows = await WaitForRowsAsync(database, [warmUp, stalled, extra.RequestId, last], TimeSpan.FromSeconds(60));

        Assert.Equal(4, rows.Count);
        AssertExactlyOnce(rows, [warmUp, stalled, extra.RequestId, last]);
        Assert.True(await EventuallyAsync(() => Task.FromResult(queue.Reader.Count == 0), TimeSpan.FromSeconds(5)));
        await AssertRollupsMatchLogsAsync(database);
    }

    private static bool FoundRoom(ValueTask enqueue)
    {
        if (enqueue.IsCompletedSuccessfully)
        {
            return true;
        }

        _ = enqueue.AsTask();
        return false;
    }

    private static UsageRecord Replay(string requestId) => new()
    {
        RequestId = requestId,
        Endpoint = "chat.completions",
        StatusCode = 200,
        CreatedAt = DateTime.UtcNow,
    };
}
