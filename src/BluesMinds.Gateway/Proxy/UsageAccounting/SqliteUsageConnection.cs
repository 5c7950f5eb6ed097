using BluesMinds.Gateway.Data.Entities;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// The usage writer's own SQLite connection, kept open between batches with its statements prepared
/// once: the transaction's begin and commit, the inserts, the rollup upsert. Preparing a 50-row insert
/// for every statement of every batch (SQLite's parser and its allocations) was several percent of
/// the writer's CPU, and EF Core's pipeline for the rollups and the transaction more again.
/// A batch is one <c>BEGIN IMMEDIATE</c> transaction: the write lock is taken first, so a batch waits
/// for another writer (up to <see cref="BusyTimeoutMs"/>) instead of failing halfway. A batch that
/// fails rolls back and closes the connection; the next one opens a fresh connection.
/// <para>
/// A batch asked to be durable commits with <c>synchronous=FULL</c> (the WAL is fsync'd at the
/// commit); the others, in WAL mode, with <c>NORMAL</c> (not fsync'd). Their records stay in the
/// usage journal, already on disk, until a later durable commit or a completed checkpoint has made
/// the WAL, and so them, durable too: an fsync of the WAL file covers every frame written to it
/// before, and SQLite restarts the WAL only after a checkpoint that fsync'd the database file.
/// </para>
/// </summary>
internal sealed class SqliteUsageConnection : IDisposable
{
    private const int BusyTimeoutMs = 5_000;

    private readonly SqliteConnection _connection;
    private readonly sqlite3 _handle;
    private readonly UsageLogInsert.Columns _columns;
    private readonly Dictionary<(int Rows, bool Returning), sqlite3_stmt> _inserts = [];
    private readonly List<sqlite3_stmt> _prepared = [];
    private readonly sqlite3_stmt _begin;
    private readonly sqlite3_stmt _commit;
    private readonly sqlite3_stmt _rollback;
    private readonly sqlite3_stmt _rollup;
    private readonly sqlite3_stmt _syncFull;
    private readonly sqlite3_stmt _syncNormal;
    private readonly sqlite3_stmt _checkpoint;
    private readonly bool _wal;
    private bool _synced = true;
    private byte[] _text = new byte[256];

    private SqliteUsageConnection(string connectionString, UsageLogInsert.Columns columns)
    {
        _columns = columns;
        // Not pooled: the connection lives as long as the writer, and its prepared statements must
        // be finalized before it closes.
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        try
        {
            _connection.Open();
            _handle = _connection.Handle ?? throw new InvalidOperationException("The SQLite connection is not open.");
            Check(raw.sqlite3_busy_timeout(_handle, BusyTimeoutMs));
            // Statement journals in memory: on disk they were about 20 KB of writes per usage row.
            Check(raw.sqlite3_exec(_handle, "PRAGMA temp_store = MEMORY"));
            _begin = Prepare("BEGIN IMMEDIATE");
            _commit = Prepare("COMMIT");
            _rollback = Prepare("ROLLBACK");
            _rollup = Prepare(UsageRollup.UpsertSql(_ => "?"));
            _syncFull = Prepare("PRAGMA synchronous = FULL");
            _syncNormal = Prepare("PRAGMA synchronous = NORMAL");
            _checkpoint = Prepare("PRAGMA wal_checkpoint(PASSIVE)");
            Step(_syncFull);
            // Outside WAL mode, NORMAL may corrupt the database at a power loss: every commit there is FULL.
            _wal = string.Equals(ReadText("PRAGMA journal_mode"), "wal", StringComparison.OrdinalIgnoreCase);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static SqliteUsageConnection Open(string connectionString, UsageLogInsert.Columns columns) => new(connectionString, columns);

    /// <summary>
    /// Inserts the rows and their rollups in one transaction; returns how many rows were new (rows
    /// whose request id is already stored are left as they are and not rolled up again).
    /// </summary>
    /// <param name="rows">The rows, one per request id.</param>
    /// <param name="durable">
    /// Whether the commit must reach the disk; it may anyway (outside WAL mode), see <see cref="LastCommitSynced"/>.
    /// </param>
    /// <param name="fresh">
    /// Whether the rows are taken to be new (a batch from the queue, not a replay): they are then
    /// inserted without returning their ids, and should one be stored already after all, that
    /// transaction is rolled back and the batch written again, returning them.
    /// </param>
    public int Write(IReadOnlyList<UsageLog> rows, bool durable, bool fresh = false)
    {
        var synced = durable || !_wal;
        if (synced != _synced)
        {
            Step(synced ? _syncFull : _syncNormal);
            _synced = synced;
        }

        if (fresh && InTransaction(() => InsertAllNew(rows)))
        {
            return rows.Count;
        }

        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        InTransaction(() =>
        {
            Insert(rows, inserted);
            Rollup(rows, inserted);
            return true;
        });
        return inserted.Count;
    }

    /// <summary>Runs <paramref name="body"/> in a transaction, committed when it returns true and rolled back otherwise.</summary>
    private bool InTransaction(Func<bool> body)
    {
        Step(_begin);
        try
        {
            if (body())
            {
                Step(_commit);
                return true;
            }
        }
        catch
        {
            Rollback();
            throw;
        }

        Rollback();
        return false;
    }

    private void Rollback()
    {
        if (raw.sqlite3_get_autocommit(_handle) == 0)
        {
            raw.sqlite3_step(_rollback);
            raw.sqlite3_reset(_rollback);
        }
    }

    /// <summary>Inserts rows taken to be new and rolls them all up; false, with the rollups not written, if a row was stored already.</summary>
    private bool InsertAllNew(IReadOnlyList<UsageLog> rows)
    {
        if (!InsertNew(rows))
        {
            return false;
        }

        Rollup(rows, inserted: null);
        return true;
    }

    private void Rollup(IReadOnlyList<UsageLog> rows, HashSet<string>? inserted)
    {
        foreach (var (group, totals) in UsageRollup.Of(rows, inserted))
        {
            BindRollup(group, totals);
            Step(_rollup);
        }
    }

    /// <summary>
    /// Whether the last <see cref="Write"/> committed with an fsync. If it inserted anything, every commit
    /// before it on this database, through any connection, reached the disk with it.
    /// </summary>
    public bool LastCommitSynced => _synced;

    /// <summary>
    /// Makes every commit so far durable without a write: a passive checkpoint fsyncs the WAL before
    /// it copies it, and the database file once it has copied every frame. Returns false when a reader
    /// kept some frames from being copied (then nothing is promised; try again later).
    /// </summary>
    public bool Checkpoint()
    {
        if (!_wal)
        {
            return true;
        }

        var rc = raw.sqlite3_step(_checkpoint);
        try
        {
            if (rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _handle);
            }

            // busy, frames in the WAL, frames copied into the database (-1, -1 when there is no WAL).
            var busy = raw.sqlite3_column_int(_checkpoint, 0);
            var log = raw.sqlite3_column_int(_checkpoint, 1);
            var copied = raw.sqlite3_column_int(_checkpoint, 2);
            return busy == 0 && log == copied;
        }
        finally
        {
            raw.sqlite3_reset(_checkpoint);
        }
    }

    public void Dispose()
    {
        foreach (var statement in _prepared)
        {
            statement.Dispose();
        }

        _prepared.Clear();
        _connection.Dispose();
    }

    /// <summary>
    /// Full statements of <see cref="UsageLogInsert.RowsPerStatement"/> rows, the rest in statements of
    /// 32, 16, 8, 4, 2 and 1 rows: seven statements cover any batch, each prepared once.
    /// </summary>
    private void Insert(IReadOnlyList<UsageLog> rows, HashSet<string> inserted) =>
        InsertInStatements(rows, returning: true, (statement, _) =>
        {
            int rc;
            while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
            {
                inserted.Add(raw.sqlite3_column_text(statement, 0).utf8_to_string());
            }

            return rc;
        });

    /// <summary>As <see cref="Insert"/>, without returning ids; false as soon as a statement inserted fewer rows than it was given.</summary>
    private bool InsertNew(IReadOnlyList<UsageLog> rows) =>
        InsertInStatements(rows, returning: false, (statement, count) =>
        {
            var rc = raw.sqlite3_step(statement);
            return rc == raw.SQLITE_DONE && raw.sqlite3_changes(_handle) != count ? NotAllNew : rc;
        });

    // Not a SQLite result code: the statement ran, but some of its rows were stored already.
    private const int NotAllNew = -1;

    private bool InsertInStatements(IReadOnlyList<UsageLog> rows, bool returning, Func<sqlite3_stmt, int, int> step)
    {
        var full = UsageLogInsert.RowsPerStatement(Data.DatabaseProvider.Sqlite);
        var start = 0;
        while (start < rows.Count)
        {
            var left = rows.Count - start;
            var count = left >= full ? full : 1 << (31 - int.LeadingZeroCount(left));
            var statement = InsertStatement(count, returning);
            var index = 1;
            for (var row = start; row < start + count; row++)
            {
                foreach (var column in _columns.All)
                {
                    Check(column.Bind(statement, index++, rows[row], ref _text));
                }
            }

            var rc = step(statement, count);
            raw.sqlite3_reset(statement);
            if (rc == NotAllNew)
            {
                return false;
            }

            if (rc != raw.SQLITE_DONE)
            {
                SqliteException.ThrowExceptionForRC(rc, _handle);
            }

            start += count;
        }

        return true;
    }

    private sqlite3_stmt InsertStatement(int rows, bool returning)
    {
        if (!_inserts.TryGetValue((rows, returning), out var statement))
        {
            _inserts[(rows, returning)] = statement = Prepare(_columns.Sql(rows, returning));
        }

        return statement;
    }

    private void BindRollup(UsageRollup.Group group, UsageRollup.Totals totals)
    {
        Check(UsageLogInsert.SqliteRows.Guid(_rollup, 1, group.UserId));
        Check(UsageLogInsert.SqliteRows.Guid(_rollup, 2, group.ApiKeyId));
        Check(UsageLogInsert.SqliteRows.Text(_rollup, 3, group.Model, ref _text));
        Check(UsageLogInsert.SqliteRows.Day(_rollup, 4, group.Day));
        Check(raw.sqlite3_bind_int64(_rollup, 5, totals.Requests));
        Check(raw.sqlite3_bind_int64(_rollup, 6, totals.Errors));
        Check(raw.sqlite3_bind_int64(_rollup, 7, totals.PromptTokens));
        Check(raw.sqlite3_bind_int64(_rollup, 8, totals.CompletionTokens));
        Check(raw.sqlite3_bind_int64(_rollup, 9, totals.CachedTokens));
        Check(raw.sqlite3_bind_int64(_rollup, 10, totals.TotalTokens));
        Check(raw.sqlite3_bind_int64(_rollup, 11, totals.CostMicros));
    }

    private sqlite3_stmt Prepare(string sql)
    {
        Check(raw.sqlite3_prepare_v2(_handle, sql, out var statement));
        _prepared.Add(statement);
        return statement;
    }

    private string ReadText(string sql)
    {
        Check(raw.sqlite3_prepare_v2(_handle, sql, out var statement));
        using (statement)
        {
            var rc = raw.sqlite3_step(statement);
            if (rc != raw.SQLITE_ROW)
            {
                SqliteException.ThrowExceptionForRC(rc, _handle);
            }

            return raw.sqlite3_column_text(statement, 0).utf8_to_string();
        }
    }

    private void Step(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc is not raw.SQLITE_DONE and not raw.SQLITE_ROW)
        {
            SqliteException.ThrowExceptionForRC(rc, _handle);
        }
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _handle);
        }
    }
}
