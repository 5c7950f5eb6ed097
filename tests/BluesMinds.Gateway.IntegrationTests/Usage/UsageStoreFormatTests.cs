using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// The usage writer inserts rows with its own statements (bound by position on SQLite), not through
/// EF Core's change tracker. Its rows must be stored exactly as EF Core stores them, or EF Core's own
/// queries (by user, by key, by date) would stop finding them.
/// </summary>
public sealed class UsageStoreFormatTests
{
    public static TheoryData<string> Shapes => ["every value set", "every nullable value null"];

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task ARowWrittenByTheUsageStore_IsStoredByteForByteAsEfCoreStoresIt(string shape)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var store = app.Services.GetRequiredService<UsageStore>();
        var full = shape == "every value set";
        var user = Guid.NewGuid();
        var key = Guid.NewGuid();
        var server = Guid.NewGuid();

        // A time with ticks below the millisecond and one on a whole second, since the text format trims zeros.
        var at = new DateTime(2026, 11, 26, 7, 8, 9, DateTimeKind.Utc).AddTicks(full ? 1_234_567 : 0);
        UsageRecord Record(string requestId) => new()
        {
            RequestId = requestId,
            UserId = full ? user : null,
            ApiKeyId = full ? key : null,
            Endpoint = "chat.completions",
            ModelRequested = full ? "gpt-4o-mini ünïcødé ✓" : null,
            ModelServed = full ? "gpt-4o-mini-2024-07-18" : null,
            ServerId = full ? server : null,
            PromptTokens = 12,
            CompletionTokens = full ? 2_000_000_000 : 0,
            CachedTokens = 3,
            TotalTokens = 15,
            TokensEstimated = full,
            CostMicros = full ? 9_000_000_000_000 : 0,
            LatencyMs = 41,
            TimeToFirstByteMs = full ? 7 : null,
            Streamed = full,
            ClientDisconnected = full,
            StatusCode = full ? 499 : 200,
            ErrorCode = full ? "client_closed" : null,
            CreatedAt = at,
        };

        // The same values twice: once saved by EF Core's change tracker, once by the usage store.
        await using (var db = database.OpenContext())
        {
            db.UsageLogs.Add(UsageStore.ToRow(Record("req_ef")));
            await db.SaveChangesAsync();
        }

        await store.InsertAsync([Record("req_store")]);

        // Each stored value with its storage type, as the engine itself renders it.
        var columns = (await database.ColumnNamesAsync("usage_logs")).Where(c => c is not "id" and not "request_id").ToList();
        var select = string.Join(", ", columns.Select(c => database.Provider == DatabaseProvider.Sqlite
            ? $"typeof({c}) || ':' || quote({c})"
            : $"pg_typeof({c})::text || ':' || coalesce({c}::text, 'NULL')"));
        var stored = (await database.QueryAsync($"SELECT request_id, {select} FROM usage_logs ORDER BY request_id")).ToDictionary(r => r[0], r => r[1..]);
        Assert.Equal(["req_ef", "req_store"], stored.Keys.Order(StringComparer.Ordinal));
        for (var i = 0; i < columns.Count; i++)
        {
            Assert.True(stored["req_ef"][i] == stored["req_store"][i], $"{columns[i]}: EF Core stored {stored["req_ef"][i]}, the usage store {stored["req_store"][i]}");
        }

        // And EF Core's own queries find the row by the values it compares on.
        await using var check = database.OpenContext();
        var found = await check.UsageLogs.AsNoTracking()
            .Where(u => u.RequestId == "req_store" && u.UserId == (full ? user : null) && u.CreatedAt == at && u.Streamed == full)
            .SingleAsync();
        Assert.Equal(full ? server : null, found.ServerId);
        Assert.Equal(full ? "gpt-4o-mini ünïcødé ✓" : null, found.ModelRequested);

        // The rollup the store wrote is found by EF Core's own query on the values it compares on,
        // and is stored as EF Core stores a rollup. A record without a user or key has none.
        var day = DateOnly.FromDateTime(at);
        var rollups = await check.UsageDaily.AsNoTracking().Where(d => d.UserId == user && d.ApiKeyId == key && d.Day == day).ToListAsync();
        if (!full)
        {
            Assert.Empty(await check.UsageDaily.AsNoTracking().ToListAsync());
            return;
        }

        var rollup = Assert.Single(rollups);
        Assert.Equal(("gpt-4o-mini ünïcødé ✓", 1L, 1L, 12L, 2_000_000_000L, 3L, 15L, 9_000_000_000_000L), (rollup.Model, rollup.Requests, rollup.ErrorRequests, rollup.PromptTokens, rollup.CompletionTokens, rollup.CachedTokens, rollup.TotalTokens, rollup.CostMicros));
        await using (var db = database.OpenContext())
        {
            db.UsageDaily.Add(new BluesMinds.Gateway.Data.Entities.UsageDaily { UserId = user, ApiKeyId = key, Model = "by EF Core", Day = day, Requests = 1 });
            await db.SaveChangesAsync();
        }

        string[] dailyColumns = ["user_id", "api_key_id", "day"];
        var dailySelect = string.Join(", ", dailyColumns.Select(c => database.Provider == DatabaseProvider.Sqlite
            ? $"typeof({c}) || ':' || quote({c})"
            : $"pg_typeof({c})::text || ':' || {c}::text"));
        var daily = (await database.QueryAsync($"SELECT model, {dailySelect} FROM usage_daily")).ToDictionary(r => r[0], r => r[1..]);
        Assert.Equal(daily["by EF Core"], daily["gpt-4o-mini ünïcødé ✓"]);
    }
}
