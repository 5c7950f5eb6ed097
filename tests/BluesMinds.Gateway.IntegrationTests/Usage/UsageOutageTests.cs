using System.Net;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// The database goes away while the gateway serves traffic: requests are still answered, their usage
/// records wait in the journal, and once the database is back every record lands exactly once.
/// </summary>
public sealed class UsageOutageTests
{
    [Fact]
    public async Task PostgresDownMidRun_RequestsAreServed_RecordsAreJournaled_ThenReplayedExactlyOnce()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Postgres, "needs PostgreSQL behind a TCP proxy");
        await using var database = await TestDatabase.CreateAsync();
        var (proxy, connectionString) = ProxyDatabase(database);
        await using var proxyLifetime = proxy;
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Database:Url", connectionString)));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();

        // Warm the key cache and the limits policy, and see the normal path commit and clear the journal.
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await ChatOkAsync(client));
        }

        await WaitForRowsAsync(database, ids);
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is cleared once a batch commits");

        proxy.Cut();
        var during = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            during.Add(await ChatOkAsync(client));
        }

        await WaitForJournalAsync(database, during);
        var lengthAfterSix = JournalLength(database);
        Assert.True(lengthAfterSix > 0);
        for (var i = 0; i < 4; i++)
        {
            during.Add(await ChatOkAsync(client));
        }

        var journal = await WaitForJournalAsync(database, during);
        Assert.True(JournalLength(database) > lengthAfterSix, "the journal grows with every record while the database is away");
        Assert.DoesNotContain(SecretPrompt, journal, StringComparison.Ordinal);
        Assert.DoesNotContain(upstream.AnswerText, journal, StringComparison.Ordinal);

        // Not one of them reached the database (read directly, not through the proxy).
        var before = await LogsAsync(database);
        Assert.DoesNotContain(before, r => during.Contains(r.RequestId));

        proxy.Restore();
        ids.AddRange(during);
        var rows = await WaitForRowsAsync(database, ids, TimeSpan.FromSeconds(15));

        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        Assert.All(rows, r => Assert.Equal((200, 5, 7, 12), (r.StatusCode, r.PromptTokens, r.CompletionTokens, r.TotalTokens)));
        await AssertRollupsMatchLogsAsync(database);
        var daily = Assert.Single(await DailyAsync(database));
        Assert.Equal((13L, 13L * 12), (daily.Requests, daily.TotalTokens));
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied after the replay");

        // And the normal path works again afterwards.
        var after = await ChatOkAsync(client);
        AssertExactlyOnce(await WaitForRowsAsync(database, [after]), [after]);
    }

    [Fact]
    public async Task PostgresDownAtShutdown_RecordsStayInTheJournal_AndTheNextStartWritesThem()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Postgres, "needs PostgreSQL behind a TCP proxy");
        await using var database = await TestDatabase.CreateAsync();
        var (proxy, connectionString) = ProxyDatabase(database);
        await using var proxyLifetime = proxy;
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var ids = new List<string>();
        await using (var app = new GatewayApp(database, Settings(("Database:Url", connectionString))))
        {
            var gateway = await StartAsync(app);
            await gateway.AddServerAsync(upstream);
            var client = gateway.CreateKeyClient();
            ids.Add(await ChatOkAsync(client));
            await WaitForRowsAsync(database, ids);

            proxy.Cut();
            for (var i = 0; i < 5; i++)
            {
                ids.Add(await ChatOkAsync(client));
            }

            await WaitForJournalAsync(database, ids[1..]);
        }

        // The first host is gone and could not write: the records are on disk, not in the database.
        var journal = await ReadJournalAsync(database);
        Assert.All(ids[1..], id => Assert.Contains($"\"request_id\":\"{id}\"", journal, StringComparison.Ordinal));
        Assert.Single(await LogsAsync(database));

        proxy.Restore();
        await using var restarted = new GatewayApp(database, Settings());
        Assert.NotNull(restarted.Services);
        var rows = await WaitForRowsAsync(database, ids, TimeSpan.FromSeconds(10));

        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied after the replay");
    }

    /// <summary>
    /// The database answers (a connection opens, SELECT 1 works) but refuses every usage insert, as
    /// one does when it is read-only, out of disk or the grant was revoked: the failure is not any
    /// record's fault, so the records must wait in the journal and land once writes resume, rather
    /// than be set aside as refused records.
    /// </summary>
    [Fact]
    public async Task DatabaseAnsweringButRefusingEveryUsageWrite_RecordsWaitInTheJournal_AndLandOnceWritesResume()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();
        var ids = new List<string> { await ChatOkAsync(client) };
        await WaitForRowsAsync(database, ids);

        await RefuseUsageWritesAsync(database);
        var during = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var (status, id) = await ChatAsync(client);
            Assert.Equal(HttpStatusCode.OK, status);
            during.Add(id);
        }

        await WaitForJournalAsync(database, during);
        Assert.Single(await LogsAsync(database));

        await AllowUsageWritesAsync(database);
        ids.AddRange(during);
        var rows = await WaitForRowsAsync(database, ids, TimeSpan.FromSeconds(15));

        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        Assert.False(File.Exists(RejectedPath(database)), "no record was at fault: none is set aside");
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied after the replay");
    }

    /// <summary>
    /// PostgreSQL turned read-only (a failover onto a standby, or an operator's maintenance switch):
    /// connections open and reads work, every insert fails with 25006. Usage must survive it.
    /// </summary>
    [Fact]
    public async Task PostgresReadOnlyForAWhile_RecordsWaitInTheJournal_AndLandOnceItIsWritableAgain()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Postgres, "a PostgreSQL setting");
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();
        var ids = new List<string> { await ChatOkAsync(client) };
        await WaitForRowsAsync(database, ids);
        var name = new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString).Database;

        // The test database does not pool connections, so every new one is read-only from here on.
        await ExecuteAsync(database, $"ALTER DATABASE \"{name}\" SET default_transaction_read_only = on");
        var during = new List<string>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                during.Add(await ChatOkAsync(client));
            }

            await WaitForJournalAsync(database, during);
            Assert.Single(await LogsAsync(database));
        }
        finally
        {
            await using var db = database.OpenContext();
            await db.Database.OpenConnectionAsync();
            await db.Database.ExecuteSqlRawAsync("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE");
            var reset = $"ALTER DATABASE \"{name}\" RESET default_transaction_read_only";
            await db.Database.ExecuteSqlRawAsync(reset);
        }

        ids.AddRange(during);
        var rows = await WaitForRowsAsync(database, ids, TimeSpan.FromSeconds(15));

        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        await AssertRollupsMatchLogsAsync(database);
        Assert.False(File.Exists(RejectedPath(database)), "no record was at fault: none is set aside");
    }
}
