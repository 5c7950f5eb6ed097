using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>USAGE_RETENTION_DAYS: raw usage_logs rows older than N days are deleted; the daily rollups stay.</summary>
public sealed class UsageRetentionTests
{
    private static readonly Guid User = Guid.NewGuid();
    private static readonly Guid Key = Guid.NewGuid();

    private static UsageLog Row(string id, DateTime createdAt) => new()
    {
        RequestId = id,
        UserId = User,
        ApiKeyId = Key,
        Endpoint = "chat.completions",
        ModelRequested = Model,
        ModelServed = Model,
        PromptTokens = 5,
        CompletionTokens = 7,
        TotalTokens = 12,
        StatusCode = 200,
        CreatedAt = createdAt,
    };

    private static UsageDaily Rollup(DateTime day, long requests) => new()
    {
        UserId = User,
        ApiKeyId = Key,
        Model = Model,
        Day = DateOnly.FromDateTime(day),
        Requests = requests,
        PromptTokens = 5 * requests,
        CompletionTokens = 7 * requests,
        TotalTokens = 12 * requests,
    };

    private static async Task SeedAsync(TestDatabase database, IEnumerable<UsageLog> rows, IEnumerable<UsageDaily> rollups)
    {
        await using var db = database.OpenContext();
        db.UsageLogs.AddRange(rows);
        db.UsageDaily.AddRange(rollups);
        await db.SaveChangesAsync();
    }

    private static async Task<List<string>> RemainingAsync(TestDatabase database)
    {
        await using var db = database.OpenContext();
        return await db.UsageLogs.OrderBy(u => u.RequestId).Select(u => u.RequestId).ToListAsync();
    }

    private static async Task MigrateAsync(TestDatabase database)
    {
        await using var app = new GatewayApp(database, Settings());
        Assert.NotNull(app.Services);
    }

    [Fact]
    public async Task Prune_DeletesRawRowsOlderThanTheRetention_AndKeepsNewerRowsAndEveryRollup()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var job = app.Services.GetRequiredService<UsageRetentionJob>();
        var now = DateTime.UtcNow;
        await SeedAsync(
            database,
            [Row("old-1", now.AddDays(-100)), Row("old-2", now.AddDays(-100)), Row("old-3", now.AddDays(-90).AddMinutes(-5)),
                Row("kept-1", now.AddDays(-89)), Row("kept-2", now.AddDays(-1)), Row("kept-3", now.AddMinutes(-1))],
            [Rollup(now.AddDays(-100), 2), Rollup(now.AddDays(-90).AddMinutes(-5), 1), Rollup(now.AddDays(-89), 1), Rollup(now, 2)]);
        var rollupsBefore = await DailyAsync(database);

        var deleted = await job.PruneAsync(CancellationToken.None);

        Assert.Equal(3, deleted);
        Assert.Equal(["kept-1", "kept-2", "kept-3"], await RemainingAsync(database));
        Assert.Equal(
            rollupsBefore.Select(d => (d.Day, d.Requests, d.TotalTokens)).Order(),
            (await DailyAsync(database)).Select(d => (d.Day, d.Requests, d.TotalTokens)).Order());

        // Nothing left to prune: a second pass deletes nothing.
        Assert.Equal(0, await job.PruneAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Prune_WorksThroughMoreRowsThanOneChunk()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var job = app.Services.GetRequiredService<UsageRetentionJob>();
        const string Columns = "request_id, endpoint, prompt_tokens, completion_tokens, cached_tokens, total_tokens, tokens_estimated, cost_micros, latency_ms, streamed, client_disconnected, status_code, created_at";
        await ExecuteAsync(database, database.Provider == BluesMinds.Gateway.Data.DatabaseProvider.Sqlite
            ? $"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5002) INSERT INTO usage_logs ({Columns}) SELECT 'old-' || i, 'chat.completions', 5, 7, 0, 12, 0, 0, 1, 0, 0, 200, '2020-01-01 00:00:00' FROM n"
            : $"INSERT INTO usage_logs ({Columns}) SELECT 'old-' || i, 'chat.completions', 5, 7, 0, 12, false, 0, 1, false, false, 200, timestamptz '2020-01-01 00:00:00+00' FROM generate_series(0, 5002) AS i");
        await SeedAsync(database, [Row("recent", DateTime.UtcNow)], []);
        await using (var db = database.OpenContext())
        {
            Assert.Equal(5_004, await db.UsageLogs.CountAsync());
        }

        Assert.Equal(5_003, await job.PruneAsync(CancellationToken.None));
        Assert.Equal(["recent"], await RemainingAsync(database));
    }

    [Fact]
    public async Task Prune_DeletesAnOldRowWrittenAfterNewerOnes_AndNothingNewerAroundIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var job = app.Services.GetRequiredService<UsageRetentionJob>();
        var now = DateTime.UtcNow;

        // Written in this order: a replayed journal can store an old record after newer ones.
        await SeedAsync(database, [Row("old-1", now.AddDays(-120)), Row("kept-1", now.AddDays(-2))], []);
        await SeedAsync(database, [Row("late-old", now.AddDays(-95)), Row("kept-2", now.AddMinutes(-3))], []);
        await SeedAsync(database, [Row("old-after-kept", now.AddDays(-91))], []);

        Assert.Equal(3, await job.PruneAsync(CancellationToken.None));
        Assert.Equal(["kept-1", "kept-2"], await RemainingAsync(database));
        Assert.Equal(0, await job.PruneAsync(CancellationToken.None));
    }

    [Fact]
    public async Task RetentionSetting_IsAppliedByTheBackgroundJobAtStart()
    {
        await using var database = await TestDatabase.CreateAsync();
        await MigrateAsync(database);
        var now = DateTime.UtcNow;
        await SeedAsync(database, [Row("old", now.AddDays(-31)), Row("kept", now.AddDays(-29))], [Rollup(now.AddDays(-31), 1), Rollup(now.AddDays(-29), 1)]);

        await using var app = new GatewayApp(database, Settings(("USAGE_RETENTION_DAYS", "30")));
        Assert.NotNull(app.Services);

        Assert.True(await EventuallyAsync(async () => (await RemainingAsync(database)).Count == 1, TimeSpan.FromSeconds(10)), "the old row is pruned at start");
        Assert.Equal(["kept"], await RemainingAsync(database));
        Assert.Equal(2, (await DailyAsync(database)).Count);
    }

    [Fact]
    public async Task RetentionZero_KeepsEveryRawRow()
    {
        await using var database = await TestDatabase.CreateAsync();
        await MigrateAsync(database);
        await SeedAsync(database, [Row("ancient", DateTime.UtcNow.AddDays(-3_000)), Row("recent", DateTime.UtcNow.AddMinutes(-1))], []);

        await using var app = new GatewayApp(database, Settings(("USAGE_RETENTION_DAYS", "0")));
        Assert.NotNull(app.Services);
        await Task.Delay(1_500);

        Assert.Equal(["ancient", "recent"], await RemainingAsync(database));
    }
}
