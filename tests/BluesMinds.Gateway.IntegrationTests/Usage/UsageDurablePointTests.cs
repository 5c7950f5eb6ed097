using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// On the embedded database, the usage writer fsyncs SQLite's WAL at most once per durable interval:
/// the batches in between commit without it, and their records stay in the journal (already on disk)
/// until a durable commit, or a checkpoint after the last batch, covers them. PostgreSQL's commits are
/// durable, so there the journal is emptied after every batch. The clock is the test's.
/// </summary>
public sealed class UsageDurablePointTests
{
    [Fact]
    public async Task Records_stay_in_the_journal_until_a_durable_commit_covers_them()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new GatewayApp(database, Settings(), services: s => s.AddSingleton<TimeProvider>(time));
        await StartAsync(app);
        var queue = app.Services.GetRequiredService<UsageQueue>();
        var start = time.GetUtcNow();

        var first = QueuedRecord("first");
        await queue.EnqueueAsync(first);
        await WaitForRowsAsync(database, time, UsageWriter.FirstGather, [first.RequestId]);
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            // Committed without the WAL's fsync: the journal still answers for it.
            Assert.Contains(first.RequestId, await ReadJournalAsync(database), StringComparison.Ordinal);
        }
        else
        {
            Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "PostgreSQL's commit is durable: the journal is emptied");
        }

        // The next batch is journaled, then held inside its insert by the test's lock; a third record
        // waits in the queue while the clock passes the durable interval.
        var held = QueuedRecord("held");
        var next = QueuedRecord("next");
        await using (await HoldUsageWriteLockAsync(database))
        {
            await queue.EnqueueAsync(held);
            await JournaledAsync(database, time, held.RequestId);
            Assert.True(time.GetUtcNow() - start < UsageWriter.DurableInterval, "the clock must not have passed the interval before the held batch began");
            await queue.EnqueueAsync(next);
            time.Advance(UsageWriter.DurableInterval);
        }

        // The held batch commits as it began (not durable); the next one, an interval after the first
        // commit that was not, is durable and empties the journal. No clock moves from here on, so no
        // idle checkpoint can be what empties it.
        var rows = await WaitForRowsAsync(database, time, UsageWriter.FirstGather, [first.RequestId, held.RequestId, next.RequestId]);
        AssertExactlyOnce(rows, [first.RequestId, held.RequestId, next.RequestId]);
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the durable commit empties the journal");
    }

    [Fact]
    public async Task After_the_last_batch_the_journal_is_emptied_within_the_durable_interval_unless_a_reader_holds_the_checkpoint_back()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Sqlite, "only the embedded database defers durability to a checkpoint");
        await using var database = await TestDatabase.CreateAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new GatewayApp(database, Settings(), services: s => s.AddSingleton<TimeProvider>(time));
        await StartAsync(app);
        var queue = app.Services.GetRequiredService<UsageQueue>();

        // A reader whose snapshot predates the record: a checkpoint cannot copy the record's frames
        // into the database while it reads, so it cannot promise them, and the journal must keep them.
        await using (var reader = new SqliteConnection(database.ConnectionString))
        {
            await reader.OpenAsync(TestContext.Current.CancellationToken);
            using var snapshot = reader.BeginTransaction(deferred: true);
            await using (var read = reader.CreateCommand())
            {
                read.CommandText = "SELECT count(*) FROM usage_logs";
                await read.ExecuteScalarAsync(TestContext.Current.CancellationToken);
            }

            var record = QueuedRecord("idle");
            await queue.EnqueueAsync(record);
            await WaitForRowsAsync(database, time, UsageWriter.FirstGather, [record.RequestId]);

            var store = app.Services.GetRequiredService<UsageStore>();
            Assert.False(store.MakeDurable(), "a checkpoint held back by a reader promises nothing");
            time.Advance(UsageWriter.DurableInterval);
            await Task.Delay(500, TestContext.Current.CancellationToken);
            Assert.Contains(record.RequestId, await ReadJournalAsync(database), StringComparison.Ordinal);
        }

        // The reader is gone: the next attempt, an interval later, checkpoints and empties the journal.
        Assert.True(await EventuallyAsync(() =>
        {
            time.Advance(UsageWriter.DurableInterval);
            return Task.FromResult(JournalLength(database) == 0);
        }, TimeSpan.FromSeconds(5)), "the journal is emptied once a checkpoint completes");
    }

    [Fact]
    public async Task A_stop_after_commits_that_were_not_durable_leaves_the_journal_empty()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var record = QueuedRecord("stop");
        await using (var app = new GatewayApp(database, Settings(), services: s => s.AddSingleton<TimeProvider>(time)))
        {
            await StartAsync(app);
            await app.Services.GetRequiredService<UsageQueue>().EnqueueAsync(record);
            await WaitForRowsAsync(database, time, UsageWriter.FirstGather, [record.RequestId]);
        }

        Assert.Equal(0, JournalLength(database));
        AssertExactlyOnce(await LogsAsync(database), [record.RequestId]);
    }

    /// <summary>Waits for a record in the journal, moving the test's clock by a first gathering at each look.</summary>
    private static async Task JournaledAsync(TestDatabase database, FakeTimeProvider time, string requestId) =>
        Assert.True(await EventuallyAsync(async () =>
        {
            time.Advance(UsageWriter.FirstGather);
            return (await ReadJournalAsync(database)).Contains(requestId, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10)), $"{requestId} never reached the journal");
}
