using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// Requests that finish together after an idle spell are written as one batch: the writer waits a
/// little after the first record instead of writing it alone. A batch is seen whole in the journal
/// while its insert waits for a lock the test holds; the clock is the test's, so no timing decides.
/// Once its window has run out, a batch waits a little longer for the next request to finish, so
/// that it is written in the gap after a request rather than while one is on its way.
/// </summary>
public sealed class UsageBatchGatheringTests
{
    [Fact]
    public async Task Records_finishing_together_after_an_idle_spell_are_journaled_and_written_as_one_batch()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new GatewayApp(database, Settings(), services: s => s.AddSingleton<TimeProvider>(time));
        await StartAsync(app);
        var queue = app.Services.GetRequiredService<UsageQueue>();
        var cancellation = TestContext.Current.CancellationToken;

        var warmUp = QueuedRecord("warm-up");
        await queue.EnqueueAsync(warmUp);
        await WaitForRowsAsync(database, time, UsageWriter.BatchWindow, [warmUp.RequestId]);

        // Idle for longer than the batch window: the next record starts a batch of its own.
        await IdleUntilTheJournalIsEmptyAsync(database, time);
        var burst = Enumerable.Range(1, 8).Select(i => QueuedRecord($"burst-{i}")).ToList();
        await using (await HoldUsageWriteLockAsync(database))
        {
            await queue.EnqueueAsync(burst[0]);
            await Task.Delay(300, cancellation);
            Assert.DoesNotContain(burst[0].RequestId, await ReadJournalAsync(database), StringComparison.Ordinal);

            foreach (var record in burst.Skip(1))
            {
                await queue.EnqueueAsync(record);
            }

            time.Advance(UsageWriter.FirstGather);
            await WaitForNextRecordWaitAsync(queue);
            // No request finishes meanwhile: the batch goes when that wait runs out.
            time.Advance(UsageWriter.NextRecordWait);
            // The writer now holds the batch in its insert, behind the test's lock: the journal shows
            // exactly what the batch took.
            var journal = await WaitForJournalAsync(database, [.. burst.Select(r => r.RequestId)]);
            Assert.DoesNotContain(warmUp.RequestId, journal, StringComparison.Ordinal);
            Assert.True(await EventuallyAsync(() => Task.FromResult(queue.Reader.Count == 0), TimeSpan.FromSeconds(5)));
        }

        var rows = await WaitForRowsAsync(database, time, UsageWriter.BatchWindow, [warmUp.RequestId, .. burst.Select(r => r.RequestId)]);
        Assert.Equal(burst.Count + 1, rows.Count);
        AssertExactlyOnce(rows, burst.Select(r => r.RequestId));
    }

    [Fact]
    public async Task A_batch_whose_window_ran_out_goes_with_the_next_request_to_finish()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new GatewayApp(database, Settings(), services: s => s.AddSingleton<TimeProvider>(time));
        await StartAsync(app);
        var queue = app.Services.GetRequiredService<UsageQueue>();

        var warmUp = QueuedRecord("warm-up");
        await queue.EnqueueAsync(warmUp);
        await WaitForRowsAsync(database, time, UsageWriter.BatchWindow, [warmUp.RequestId]);
        await IdleUntilTheJournalIsEmptyAsync(database, time);

        var first = QueuedRecord("first");
        var next = QueuedRecord("next");
        await using (await HoldUsageWriteLockAsync(database))
        {
            await queue.EnqueueAsync(first);
            // Time for the writer to begin gathering before the clock moves past it.
            await Task.Delay(300, TestContext.Current.CancellationToken);
            time.Advance(UsageWriter.FirstGather);
            await WaitForNextRecordWaitAsync(queue);
            Assert.DoesNotContain(first.RequestId, await ReadJournalAsync(database), StringComparison.Ordinal);

            // The clock stands still: only the next record ends the wait, and it joins the batch.
            await queue.EnqueueAsync(next);
            await WaitForJournalAsync(database, [first.RequestId, next.RequestId]);
            Assert.False(queue.WaitsForNextRecord);
        }

        var rows = await WaitForRowsAsync(database, time, UsageWriter.BatchWindow, [warmUp.RequestId, first.RequestId, next.RequestId]);
        Assert.Equal(3, rows.Count);
        AssertExactlyOnce(rows, [first.RequestId, next.RequestId]);
    }

    private static async Task WaitForNextRecordWaitAsync(UsageQueue queue) =>
        Assert.True(await EventuallyAsync(() => Task.FromResult(queue.WaitsForNextRecord), TimeSpan.FromSeconds(10)), "the writer never waited for the next record");

    /// <summary>
    /// An idle spell on the test's clock, long enough for the warm-up's durable point (on SQLite the
    /// journal keeps a batch until then). One step of a second could come before the writer began
    /// waiting for that point, and be lost to it.
    /// </summary>
    private static async Task IdleUntilTheJournalIsEmptyAsync(TestDatabase database, FakeTimeProvider time) =>
        Assert.True(await EventuallyAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return (await ReadJournalAsync(database)).Length == 0;
        }, TimeSpan.FromSeconds(10)), "the journal was never emptied");
}
