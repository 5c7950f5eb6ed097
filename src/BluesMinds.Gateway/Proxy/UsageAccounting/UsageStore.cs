using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Writes a batch of usage records and their daily rollups in one transaction. Records whose
/// request id is already stored are skipped (a replay) by the insert itself, and the rollups count
/// only the rows it reports as inserted, so replaying any batch any number of times changes nothing.
/// Rollups are added with atomic increments, so replicas writing the same day never lose an update.
/// </summary>
internal sealed class UsageStore(IServiceScopeFactory scopes)
{
    public async Task InsertAsync(IReadOnlyList<UsageRecord> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        if (db.Provider == DatabaseProvider.Sqlite)
        {
            // Statement journals in memory: on disk they were about 20 KB of writes per usage row.
            await db.Database.OpenConnectionAsync();
            UsageLogInsert.KeepTempStoreInMemory((Microsoft.Data.Sqlite.SqliteConnection)db.Database.GetDbConnection());
        }

        await using var transaction = await db.Database.BeginTransactionAsync();

        // One row per request id: the first record wins, as it would in the database.
        var rows = new List<UsageLog>(batch.Count);
        var seen = new HashSet<string>(batch.Count, StringComparer.Ordinal);
        foreach (var record in batch)
        {
            var row = ToRow(record);
            if (seen.Add(row.RequestId))
            {
                rows.Add(row);
            }
        }

        var inserted = await UsageLogInsert.InsertNewAsync(db, rows);
        if (inserted.Count == 0)
        {
            return;
        }

        // Rolled up from the rows as stored (fitted and clamped), so the sums always equal the rows'.
        foreach (var day in rows
            .Where(r => inserted.Contains(r.RequestId) && r.UserId is not null && r.ApiKeyId is not null)
            .GroupBy(r => (User: r.UserId!.Value, Key: r.ApiKeyId!.Value, Model: r.ModelRequested ?? string.Empty, Day: DateOnly.FromDateTime(r.CreatedAt))))
        {
            var (user, key, model, date) = day.Key;
            long requests = day.Count();
            long errors = day.Count(r => r.StatusCode >= 400);
            long prompt = day.Sum(r => (long)r.PromptTokens);
            long completion = day.Sum(r => (long)r.CompletionTokens);
            long cached = day.Sum(r => (long)r.CachedTokens);
            long total = day.Sum(r => (long)r.TotalTokens);
            long cost = day.Sum(r => r.CostMicros);
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO usage_daily (user_id, api_key_id, model, day, requests, error_requests, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost_micros)
                VALUES ({user}, {key}, {model}, {date}, {requests}, {errors}, {prompt}, {completion}, {cached}, {total}, {cost})
                ON CONFLICT (user_id, day, api_key_id, model) DO UPDATE SET
                    requests = usage_daily.requests + excluded.requests,
                    error_requests = usage_daily.error_requests + excluded.error_requests,
                    prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
                    cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
                    total_tokens = usage_daily.total_tokens + excluded.total_tokens,
                    cost_micros = usage_daily.cost_micros + excluded.cost_micros
                """);
        }

        await transaction.CommitAsync();
    }

    /// <summary>
    /// True when a failed insert was caused by the records themselves (a value the database cannot
    /// hold or a constraint it breaks), not by the database's state: an outage, read-only mode, a full
    /// disk, a revoked grant or a timeout. Only the former may set a record aside; the latter wait in
    /// the journal until the database accepts them.
    /// </summary>
    public static bool IsRecordFault(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case Npgsql.PostgresException pg:
                    // 22: data exception (too long, bad encoding, out of range); 23: integrity constraint.
                    return pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal);
                case Microsoft.Data.Sqlite.SqliteException sqlite:
                    // SQLITE_CONSTRAINT (but not one raised by a trigger: that is the operator's rule
                    // about the table, not about this record), SQLITE_MISMATCH, SQLITE_TOOBIG.
                    const int ConstraintTrigger = 19 | (7 << 8);
                    return (sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode != ConstraintTrigger) || sqlite.SqliteErrorCode is 20 or 18;
                case ArgumentException or InvalidCastException or FormatException or OverflowException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Text from a client fitted to its column: cut to the column's length (never inside a surrogate
    /// pair) and without NUL characters, which PostgreSQL text cannot hold. A record must always be storable.
    /// </summary>
    internal static string? Fit(string? value, int length)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            value = value.Replace('\0', '\uFFFD');
        }

        if (value.Length <= length)
        {
            return value;
        }

        var cut = char.IsHighSurrogate(value[length - 1]) ? length - 1 : length;
        return value[..cut];
    }

    private const int ModelLength = 200;
    private const int CodeLength = 64;

    /// <summary>The row a record becomes: client text fitted to its column, counts never negative.</summary>
    internal static UsageLog ToRow(UsageRecord r) => new()
    {
        RequestId = Fit(r.RequestId, CodeLength)!,
        UserId = r.UserId,
        ApiKeyId = r.ApiKeyId,
        Endpoint = Fit(r.Endpoint, CodeLength)!,
        ModelRequested = Fit(r.ModelRequested, ModelLength),
        ModelServed = Fit(r.ModelServed, ModelLength),
        ServerId = r.ServerId,
        PromptTokens = Math.Max(0, r.PromptTokens),
        CompletionTokens = Math.Max(0, r.CompletionTokens),
        CachedTokens = Math.Max(0, r.CachedTokens),
        TotalTokens = Math.Max(0, r.TotalTokens),
        TokensEstimated = r.TokensEstimated,
        CostMicros = Math.Max(0, r.CostMicros),
        LatencyMs = r.LatencyMs,
        TimeToFirstByteMs = r.TimeToFirstByteMs,
        Streamed = r.Streamed,
        ClientDisconnected = r.ClientDisconnected,
        StatusCode = r.StatusCode,
        ErrorCode = Fit(r.ErrorCode, CodeLength),
        CreatedAt = r.CreatedAt,
    };
}
