using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>A graceful stop writes every record of the requests it served before it exits.</summary>
public sealed class UsageShutdownTests
{
    [Fact]
    public async Task DisposingRightAfterTheRequests_EveryRecordIsWritten()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var app = new GatewayApp(database, Settings());
        var ids = new List<string>();
        try
        {
            var gateway = await StartAsync(app);
            await gateway.AddServerAsync(upstream);
            var client = gateway.CreateKeyClient();
            var requests = Enumerable.Range(0, 20).Select(_ => ChatOkAsync(client)).ToList();
            ids.AddRange(await Task.WhenAll(requests));
        }
        finally
        {
            await app.DisposeAsync();
        }

        var rows = await LogsAsync(database);
        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        Assert.Equal(0, JournalLength(database));
    }

    [Fact]
    public async Task DisposingWhileTheWriterIsStalled_QueuedRecordsAreFlushedBeforeTheHostExits()
    {
        // The writer is held inside its first insert, so the later records are still queued when the
        // stop begins: the stop must drain them (journal first, then the database) rather than drop them.
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var app = new GatewayApp(database, Settings());
        var ids = new List<string>();
        var disposing = (Task?)null;
        var held = (IAsyncDisposable?)null;
        try
        {
            var gateway = await StartAsync(app);
            await gateway.AddServerAsync(upstream);
            var client = gateway.CreateKeyClient();
            held = await HoldUsageWriteLockAsync(database);
            for (var i = 0; i < 10; i++)
            {
                ids.Add(await ChatOkAsync(client));
            }

            disposing = app.DisposeAsync().AsTask();
            await Task.Delay(500);
            Assert.False(disposing.IsCompleted, "the host waits for the usage writer before it exits");
        }
        finally
        {
            if (held is not null)
            {
                await held.DisposeAsync();
            }

            if (disposing is null)
            {
                await app.DisposeAsync();
            }
        }

        await disposing!.WaitAsync(TimeSpan.FromSeconds(15));
        var rows = await LogsAsync(database);
        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        Assert.Equal(0, JournalLength(database));
    }
}
