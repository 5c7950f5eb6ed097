using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// A gateway that dies without warning loses no usage record that reached its journal: the next
/// start on the same journal replays it, and a replay never counts anything twice.
/// </summary>
public sealed class UsageCrashRecoveryTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The gateway as a process on the test's database, with the data directory (and so the journal) under its working directory.</summary>
    private static Dictionary<string, string?> ProcessEnvironment(TestDatabase database, string databaseUrl) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["DATABASE_PROVIDER"] = database.Provider.ToString(),
        ["DATABASE_URL"] = databaseUrl,
        ["DATABASE_MIGRATE_ON_STARTUP"] = "true",
        ["JWT_SECRET"] = TestEnvironmentVariables.StrongSecrets["JWT_SECRET"],
        ["API_KEY_SECRET"] = TestEnvironmentVariables.StrongSecrets["API_KEY_SECRET"],
        ["ENCRYPTION_KEY"] = TestEnvironmentVariables.StrongSecrets["ENCRYPTION_KEY"],
        ["BCRYPT_ROUNDS"] = "4",
        ["Upstreams__HealthCheckIntervalSeconds"] = "1",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
    };

    /// <summary>Sets up the accounts, the key and the upstream with the in-process host, then stops it.</summary>
    private static async Task<string> PrepareAsync(TestDatabase database, FakeUpstream upstream)
    {
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        return gateway.Key;
    }

    private static async Task<HttpClient> KeyClientAsync(GatewayProcess process, string key)
    {
        var client = new HttpClient { BaseAddress = await process.WaitForListeningAsync(StartTimeout), Timeout = TimeSpan.FromSeconds(20) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var routable = await EventuallyAsync(
            async () => (await client.GetStringAsync(Url("/api/v1/models"))).Contains($"\"{Model}\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
        Assert.True(routable, "the upstream never became routable in the gateway process:\n" + process.Output);
        return client;
    }

    /// <summary>
    /// PostgreSQL becomes unreachable (cut at a TCP proxy), so every record goes to the journal and
    /// stays there; the process is then killed (SIGKILL, no shutdown hook runs) and a new process on
    /// the same data directory, with the database back, writes each record exactly once.
    /// </summary>
    [Fact]
    public async Task ProcessKilledWithRecordsOnlyInTheJournal_NextStartReplaysEachExactlyOnce()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Postgres, "cutting the database needs PostgreSQL behind a TCP proxy");
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var key = await PrepareAsync(database, upstream);
        var (proxy, url) = ProxyDatabase(database);
        await using var proxyLifetime = proxy;

        var committed = new List<string>();
        var journaled = new List<string>();
        await using (var first = GatewayProcess.Start(database.Directory, ProcessEnvironment(database, url)))
        {
            using var client = await KeyClientAsync(first, key);
            for (var i = 0; i < 2; i++)
            {
                committed.Add(await ChatOkAsync(client));
            }

            await WaitForRowsAsync(database, committed);
            proxy.Cut();
            for (var i = 0; i < 6; i++)
            {
                journaled.Add(await ChatOkAsync(client));
            }

            await WaitForJournalAsync(database, journaled);
        }

        var journal = await ReadJournalAsync(database);
        Assert.All(journaled, id => Assert.Contains($"\"request_id\":\"{id}\"", journal, StringComparison.Ordinal));
        Assert.Equal(committed.Order(StringComparer.Ordinal), (await LogsAsync(database)).Select(r => r.RequestId).Order(StringComparer.Ordinal));
        Assert.Equal(2L, Assert.Single(await DailyAsync(database)).Requests);

        // A new process on the same data directory, with the database reachable.
        await using (var second = GatewayProcess.Start(database.Directory, ProcessEnvironment(database, database.Url)))
        {
            await second.WaitForListeningAsync(StartTimeout);
            var all = committed.Concat(journaled).ToList();
            var rows = await WaitForRowsAsync(database, all, TimeSpan.FromSeconds(15));

            Assert.Equal(all.Count, rows.Count);
            AssertExactlyOnce(rows, all);
            await AssertRollupsMatchLogsAsync(database);
            var daily = Assert.Single(await DailyAsync(database));
            Assert.Equal((8L, 0L, 40L, 56L, 96L), (daily.Requests, daily.ErrorRequests, daily.PromptTokens, daily.CompletionTokens, daily.TotalTokens));
            Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied once replayed");
        }
    }

    /// <summary>
    /// Either provider: the writer has appended its batch to the journal (fsync'd) and waits inside the
    /// insert for a lock the test holds when the process is killed; the next process writes it once.
    /// </summary>
    [Fact]
    public async Task ProcessKilledMidInsert_TheBatchInTheJournalIsWrittenOnceAtTheNextStart()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var key = await PrepareAsync(database, upstream);

        string id;
        var first = GatewayProcess.Start(database.Directory, ProcessEnvironment(database, database.Url));
        IAsyncDisposable? held = null;
        try
        {
            using var client = await KeyClientAsync(first, key);
            held = await HoldUsageWriteLockAsync(database);
            id = await ChatOkAsync(client);
            await WaitForJournalAsync(database, [id]);
            await Task.Delay(200);
        }
        finally
        {
            // Killed while the insert waits for the lock; the lock goes only after the process is gone.
            await first.DisposeAsync();
            if (held is not null)
            {
                await held.DisposeAsync();
            }
        }

        Assert.Empty(await LogsAsync(database));
        await using (var second = GatewayProcess.Start(database.Directory, ProcessEnvironment(database, database.Url)))
        {
            await second.WaitForListeningAsync(StartTimeout);
            var rows = await WaitForRowsAsync(database, [id], TimeSpan.FromSeconds(15));
            AssertExactlyOnce(rows, [id]);
            Assert.Single(rows);
            await AssertRollupsMatchLogsAsync(database);
        }
    }

    /// <summary>One journal line in the on-disk format: a UsageRecord as snake_case JSON.</summary>
    private static string JournalLine(string requestId, Guid userId, Guid keyId, DateTime createdAt, int prompt, int completion, int status = 200, long cost = 0) =>
        new JsonObject
        {
            ["request_id"] = requestId,
            ["endpoint"] = "chat.completions",
            ["user_id"] = userId,
            ["api_key_id"] = keyId,
            ["model_requested"] = Model,
            ["model_served"] = Model,
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["cached_tokens"] = 0,
            ["total_tokens"] = prompt + completion,
            ["tokens_estimated"] = false,
            ["cost_micros"] = cost,
            ["latency_ms"] = 12,
            ["streamed"] = false,
            ["client_disconnected"] = false,
            ["status_code"] = status,
            ["created_at"] = createdAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        }.ToJsonString();

    [Fact]
    public async Task JournalWithAlreadyInsertedRecordsAndATornLastLine_IsReplayedAtStartWithoutDuplicates()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        List<string> existing;
        Guid userId;
        Guid keyId;
        await using (var app = new GatewayApp(database, Settings()))
        {
            var gateway = await StartAsync(app);
            await gateway.AddServerAsync(upstream);
            var client = gateway.CreateKeyClient();
            existing = [await ChatOkAsync(client), await ChatOkAsync(client), await ChatOkAsync(client)];
            var rows = await WaitForRowsAsync(database, existing);
            userId = rows[0].UserId!.Value;
            keyId = rows[0].ApiKeyId!.Value;
        }

        var existingRows = await LogsAsync(database);
        var rollupsBefore = await DailyAsync(database);
        Assert.Equal(3L, Assert.Single(rollupsBefore).Requests);

        // As a crash between the commit and the journal's truncation leaves it: the committed records,
        // then newer ones (one of them twice), then a line cut short mid-write.
        var now = DateTime.UtcNow;
        var yesterday = now.AddDays(-1);
        var freshToday = $"journal-{Guid.NewGuid():N}";
        var freshYesterday = $"journal-{Guid.NewGuid():N}";
        var torn = $"journal-{Guid.NewGuid():N}";
        var journal = new StringBuilder();
        foreach (var row in existingRows)
        {
            journal.Append(JournalLine(row.RequestId, userId, keyId, row.CreatedAt, row.PromptTokens, row.CompletionTokens)).Append('\n');
        }

        journal.Append(JournalLine(freshToday, userId, keyId, now, 11, 13, cost: 42)).Append('\n');
        journal.Append(JournalLine(freshYesterday, userId, keyId, yesterday, 3, 4, status: 502)).Append('\n');
        journal.Append(JournalLine(freshToday, userId, keyId, now, 11, 13, cost: 42)).Append('\n');
        var tornLine = JournalLine(torn, userId, keyId, now, 1000, 1000);
        journal.Append(tornLine.AsSpan(0, tornLine.Length / 2));
        Directory.CreateDirectory(Path.GetDirectoryName(JournalPath(database))!);
        await WriteJournalAsync(database, journal.ToString());

        await using var restarted = new GatewayApp(database, Settings());
        Assert.NotNull(restarted.Services);
        var after = await WaitForRowsAsync(database, [.. existing, freshToday, freshYesterday]);

        Assert.Equal(5, after.Count);
        AssertExactlyOnce(after, [.. existing, freshToday, freshYesterday]);
        Assert.DoesNotContain(after, r => r.RequestId == torn);
        var today = after.Single(r => r.RequestId == freshToday);
        Assert.Equal((11, 13, 24, 42L, 200), (today.PromptTokens, today.CompletionTokens, today.TotalTokens, today.CostMicros, today.StatusCode));
        await AssertRollupsMatchLogsAsync(database);
        var daily = await DailyAsync(database);
        var todayRollup = daily.Single(d => d.Day == DateOnly.FromDateTime(now));
        var yesterdayRollup = daily.Single(d => d.Day == DateOnly.FromDateTime(yesterday));
        Assert.Equal((4L, 0L, 3 * 12 + 24L, 42L), (todayRollup.Requests, todayRollup.ErrorRequests, todayRollup.TotalTokens, todayRollup.CostMicros));
        Assert.Equal((1L, 1L, 7L), (yesterdayRollup.Requests, yesterdayRollup.ErrorRequests, yesterdayRollup.TotalTokens));
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied once replayed");

        await using var db = database.OpenContext();
        Assert.Equal(5, await db.UsageLogs.CountAsync());
        Assert.Equal(2, await db.UsageDaily.CountAsync());
    }

    /// <summary>
    /// A journal record PostgreSQL cannot take (a timestamp without a time zone, which Npgsql refuses
    /// for timestamptz) is set aside beside the journal; the records around it are written.
    /// </summary>
    [Fact]
    public async Task AJournalRecordTheDatabaseCannotStore_IsSetAside_AndTheOthersAreWritten()
    {
        Assert.SkipUnless(TestEnvironmentVariables.Provider == DatabaseProvider.Postgres, "needs a record only PostgreSQL refuses");
        await using var database = await TestDatabase.CreateAsync();
        await using (var app = new GatewayApp(database, Settings()))
        {
            Assert.NotNull(app.Services);
        }

        var userId = Guid.NewGuid();
        var keyId = Guid.NewGuid();
        var now = DateTime.UtcNow;
        var good = Enumerable.Range(0, 5).Select(i => $"good-{i}-{Guid.NewGuid():N}").ToList();
        var bad = $"bad-{Guid.NewGuid():N}";
        var lines = good.Select(id => JournalLine(id, userId, keyId, now, 2, 3)).ToList();
        lines.Insert(2, JournalLine(bad, userId, keyId, DateTime.SpecifyKind(now, DateTimeKind.Unspecified), 2, 3));
        Directory.CreateDirectory(Path.GetDirectoryName(JournalPath(database))!);
        await WriteJournalAsync(database, string.Concat(lines.Select(l => l + "\n")));

        await using var restarted = new GatewayApp(database, Settings());
        Assert.NotNull(restarted.Services);
        var rows = await WaitForRowsAsync(database, good);

        Assert.Equal(5, rows.Count);
        AssertExactlyOnce(rows, good);
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied");
        var rejected = await File.ReadAllLinesAsync(RejectedPath(database));
        Assert.Contains($"\"request_id\":\"{bad}\"", Assert.Single(rejected), StringComparison.Ordinal);
        await AssertRollupsMatchLogsAsync(database);
        Assert.Equal(5L, Assert.Single(await DailyAsync(database)).Requests);
    }

    [Fact]
    public async Task SameJournalReplayedTwice_CountsEachRecordOnce()
    {
        // A crash during the replay itself (after some chunks committed) leads to a second replay of the same file.
        await using var database = await TestDatabase.CreateAsync();
        await using (var app = new GatewayApp(database, Settings()))
        {
            Assert.NotNull(app.Services);
        }

        var userId = Guid.NewGuid();
        var keyId = Guid.NewGuid();
        var now = DateTime.UtcNow;
        var ids = Enumerable.Range(0, 1_200).Select(i => $"replay-{i}-{Guid.NewGuid():N}").ToList();
        var text = string.Concat(ids.Select(id => JournalLine(id, userId, keyId, now, 2, 3) + "\n"));
        Directory.CreateDirectory(Path.GetDirectoryName(JournalPath(database))!);

        for (var round = 0; round < 2; round++)
        {
            await WriteJournalAsync(database, text);
            await using var app = new GatewayApp(database, Settings());
            Assert.NotNull(app.Services);
            await WaitForRowsAsync(database, ids);
            Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "the journal is emptied once replayed");
        }

        var rows = await LogsAsync(database);
        Assert.Equal(ids.Count, rows.Count);
        AssertExactlyOnce(rows, ids);
        var daily = Assert.Single(await DailyAsync(database));
        Assert.Equal((1_200L, 1_200L * 5), (daily.Requests, daily.TotalTokens));
        await AssertRollupsMatchLogsAsync(database);
    }

    [Fact]
    public async Task TheJournalIsExclusive_ASecondHostOnTheSameFileRefusesToStart()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = new GatewayApp(database, Settings(("USAGE_JOURNAL_PATH", "usage-journal.jsonl")));
        Assert.NotNull(first.Services);
        await using var second = new GatewayApp(database, Settings(("USAGE_JOURNAL_PATH", "usage-journal.jsonl")));

        var error = Record.Exception(() => second.Services);

        Assert.NotNull(error);
        Assert.Contains(Flatten(error), e => e is IOException);
    }

    private static IEnumerable<Exception> Flatten(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
