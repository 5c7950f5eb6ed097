using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Writes a batch of usage records and their daily rollups in one transaction. Records whose
/// request id is already stored are skipped (a replay) by the insert itself, and the rollups count
/// only the rows it reports as inserted, so replaying any batch any number of times changes nothing.
/// Rollups are added with atomic increments, so replicas writing the same day never lose an update.
/// PostgreSQL commits are always durable; an embedded database's may be left to a later durable
/// commit or <see cref="MakeDurable"/> (see <see cref="SqliteUsageConnection"/>).
/// </summary>
internal sealed class UsageStore(IServiceScopeFactory scopes) : IDisposable
{
    // PostgreSQL's rollup, through EF Core's positional parameters.
    private static readonly string RollupSql = UsageRollup.UpsertSql(i => $"{{{i}}}");

    // SQLite: one connection of the writer's own, kept between batches (see SqliteUsageConnection).
    private readonly Lock _sqliteGate = new();
    private SqliteUsageConnection? _sqlite;

    // Learnt from the first batch's context (the provider, and on SQLite the connection string and
    // columns), so that the usage store asks nothing of the container at start-up.
    private Target? _target;

    // Whether an embedded commit reached the database without an fsync and none has reached the
    // disk since (a later synced commit or a completed checkpoint). Kept here, not per connection:
    // a connection replaced after a failure leaves its commits in the same WAL.
    private bool _unsynced;

    /// <summary>
    /// Whether every insert so far is on disk. When not, their records must stay in the journal until a
    /// durable insert or <see cref="MakeDurable"/>.
    /// </summary>
    public bool Durable
    {
        get
        {
            lock (_sqliteGate)
            {
                return !_unsynced;
            }
        }
    }

    /// <summary>Inserts a batch.</summary>
    /// <param name="batch">The records.</param>
    /// <param name="durable">
    /// Whether the commit must be on disk when this returns (PostgreSQL's always is); see <see cref="Durable"/>.
    /// </param>
    /// <param name="fresh">
    /// Whether the records are taken to be new (from the queue, not a replay of the journal): the
    /// embedded database then inserts them without returning their ids (see <see cref="SqliteUsageConnection.Write"/>).
    /// Either way a record already stored is skipped.
    /// </param>
    public async Task InsertAsync(IReadOnlyList<UsageRecord> batch, bool durable = true, bool fresh = false)
    {
        var rows = Rows(batch);
        if ((_target ??= DescribeTarget()).Provider == DatabaseProvider.Sqlite)
        {
            InsertSqlite(rows, _target, durable, fresh);
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync();
        var inserted = await UsageLogInsert.InsertNewAsync(db, rows);
        if (inserted.Count == 0)
        {
            return;
        }

        // Rolled up from the rows as stored (fitted and clamped), so the sums always equal the rows'.
        foreach (var ((user, key, model, date), t) in UsageRollup.Of(rows, inserted))
        {
            await db.Database.ExecuteSqlRawAsync(
                RollupSql,
                user, key, model, date, t.Requests, t.Errors, t.PromptTokens, t.CompletionTokens, t.CachedTokens, t.TotalTokens, t.CostMicros);
        }

        await transaction.CommitAsync();
    }

    public void Dispose()
    {
        lock (_sqliteGate)
        {
            _sqlite?.Dispose();
            _sqlite = null;
        }
    }

    /// <summary>
    /// Makes every insert so far durable without writing a batch; false when that could not be
    /// promised yet (an embedded database's reader held the checkpoint back).
    /// </summary>
    public bool MakeDurable()
    {
        lock (_sqliteGate)
        {
            if (!_unsynced)
            {
                return true;
            }

            _unsynced = !UseSqlite(_target!, sqlite => sqlite.Checkpoint());
            return !_unsynced;
        }
    }

    private void InsertSqlite(List<UsageLog> rows, Target target, bool durable, bool fresh) =>
        UseSqlite(target, sqlite =>
        {
            // A commit that changed nothing wrote nothing to fsync, so it vouches for nothing.
            if (sqlite.Write(rows, durable, fresh) > 0)
            {
                _unsynced = !sqlite.LastCommitSynced;
            }

            return true;
        });

    /// <summary>Runs <paramref name="use"/> on the writer's connection, under the store's lock.</summary>
    private T UseSqlite<T>(Target target, Func<SqliteUsageConnection, T> use)
    {
        lock (_sqliteGate)
        {
            try
            {
                _sqlite ??= SqliteUsageConnection.Open(target.ConnectionString!, target.Columns!);
                return use(_sqlite);
            }
            catch
            {
                // Whatever went wrong (a lock held too long, a file replaced, a full disk), the next
                // batch starts from a fresh connection.
                _sqlite?.Dispose();
                _sqlite = null;
                throw;
            }
        }
    }

    private Target DescribeTarget()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        return db.Provider == DatabaseProvider.Sqlite
            ? new Target(db.Provider, db.Database.GetConnectionString(), UsageLogInsert.Columns.For(db))
            : new Target(db.Provider, null, null);
    }

    private sealed record Target(DatabaseProvider Provider, string? ConnectionString, UsageLogInsert.Columns? Columns);

    /// <summary>One row per request id: the first record wins, as it would in the database.</summary>
    private static List<UsageLog> Rows(IReadOnlyList<UsageRecord> batch)
    {
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

        return rows;
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
