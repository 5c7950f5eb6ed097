using System.Data.Common;
using System.Text;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using SQLitePCL;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Inserts <c>usage_logs</c> rows with <c>INSERT … ON CONFLICT (request_id) DO NOTHING RETURNING
/// request_id</c> statements of up to <see cref="RowsPerStatement"/> rows. Change tracking cost the
/// writer about as much CPU per record as the whole request path; this costs a few microseconds per
/// row, and the returned ids tell exactly which rows are new, without a query first.
/// Column names come from the EF Core model, and on PostgreSQL the parameters from its type
/// mappings; on SQLite the value formats are written out in <see cref="SqliteRows"/>. Either way
/// the rows are the ones <c>SaveChanges</c> would write: a test compares them column by column.
/// </summary>
internal static class UsageLogInsert
{
    /// <summary>
    /// Rows per statement: a hundred on PostgreSQL (2,000 parameters, one round trip each), fifty on
    /// SQLite, where every statement pays for its own journal and sequence update. SQLite statements
    /// are bound by position through SQLitePCLRaw: Microsoft.Data.Sqlite binds by name with a linear
    /// search (quadratic in a wide statement), and its per-execution overhead was more than a third of
    /// the writer's CPU.
    /// </summary>
    public static int RowsPerStatement(DatabaseProvider provider) => provider == DatabaseProvider.Sqlite ? 50 : 100;

    private static readonly (string Property, Func<UsageLog, object?> Value)[] Values =
    [
        (nameof(UsageLog.RequestId), r => r.RequestId),
        (nameof(UsageLog.UserId), r => r.UserId),
        (nameof(UsageLog.ApiKeyId), r => r.ApiKeyId),
        (nameof(UsageLog.Endpoint), r => r.Endpoint),
        (nameof(UsageLog.ModelRequested), r => r.ModelRequested),
        (nameof(UsageLog.ModelServed), r => r.ModelServed),
        (nameof(UsageLog.ServerId), r => r.ServerId),
        (nameof(UsageLog.PromptTokens), r => r.PromptTokens),
        (nameof(UsageLog.CompletionTokens), r => r.CompletionTokens),
        (nameof(UsageLog.CachedTokens), r => r.CachedTokens),
        (nameof(UsageLog.TotalTokens), r => r.TotalTokens),
        (nameof(UsageLog.TokensEstimated), r => r.TokensEstimated),
        (nameof(UsageLog.CostMicros), r => r.CostMicros),
        (nameof(UsageLog.LatencyMs), r => r.LatencyMs),
        (nameof(UsageLog.TimeToFirstByteMs), r => r.TimeToFirstByteMs),
        (nameof(UsageLog.Streamed), r => r.Streamed),
        (nameof(UsageLog.ClientDisconnected), r => r.ClientDisconnected),
        (nameof(UsageLog.StatusCode), r => r.StatusCode),
        (nameof(UsageLog.ErrorCode), r => r.ErrorCode),
        (nameof(UsageLog.CreatedAt), r => r.CreatedAt),
    ];

    /// <summary>
    /// Inserts the rows inside the context's current transaction and returns the request ids that
    /// were new; rows whose request id is already stored are left as they are.
    /// </summary>
    public static async Task<HashSet<string>> InsertNewAsync(GatewayDbContext db, IReadOnlyList<UsageLog> rows)
    {
        var columns = Columns.For(db);
        var connection = db.Database.GetDbConnection();
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("Usage rows are inserted inside a transaction.");
        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        if (connection is SqliteConnection sqlite)
        {
            SqliteRows.Insert(sqlite, columns, rows, inserted);
            return inserted;
        }

        var size = RowsPerStatement(db.Provider);
        var command = (DbCommand?)null;
        try
        {
            for (var start = 0; start < rows.Count; start += size)
            {
                var count = Math.Min(size, rows.Count - start);
                var sql = columns.Sql(count);
                if (command?.CommandText != sql)
                {
                    if (command is not null)
                    {
                        await command.DisposeAsync();
                    }

                    command = connection.CreateCommand();
                    command.Transaction = transaction;
                    command.CommandText = sql;
                }

                var index = 0;
                var reuse = command.Parameters.Count == count * columns.All.Length;
                for (var row = start; row < start + count; row++)
                {
                    foreach (var column in columns.All)
                    {
                        var value = column.Value(rows[row]);
                        if (reuse)
                        {
                            // Same statement, same parameter types: only the values change.
                            command.Parameters[index++].Value = value is null ? DBNull.Value : column.Mapping.Converter?.ConvertToProvider(value) ?? value;
                        }
                        else
                        {
                            // Unnamed parameters: Npgsql then sends the text as it is instead of parsing
                            // it to rewrite two thousand @names into positions.
                            command.Parameters.Add(column.Mapping.CreateParameter(command, string.Empty, value, column.Nullable));
                            index++;
                        }
                    }
                }

                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    inserted.Add(reader.GetString(0));
                }
            }
        }
        finally
        {
            if (command is not null)
            {
                await command.DisposeAsync();
            }
        }

        return inserted;
    }

    private sealed record Column(string Name, RelationalTypeMapping Mapping, bool Nullable, Func<UsageLog, object?> Value);

    /// <summary>
    /// SQLite through SQLitePCLRaw on the connection EF Core opened, inside its transaction: one
    /// statement prepared per batch and row count, values bound by position in the formats
    /// Microsoft.Data.Sqlite gives EF Core's SQLite mappings (GUIDs as upper-case text, dates as
    /// <c>yyyy-MM-dd HH:mm:ss.FFFFFFF</c> text, booleans as 0/1).
    /// </summary>
    private static class SqliteRows
    {
        private const string DateFormat = @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF";

        public static void Insert(SqliteConnection connection, Columns columns, IReadOnlyList<UsageLog> rows, HashSet<string> inserted)
        {
            var size = RowsPerStatement(DatabaseProvider.Sqlite);
            var handle = connection.Handle ?? throw new InvalidOperationException("The SQLite connection is not open.");
            var text = new byte[256];
            sqlite3_stmt? statement = null;
            var statementRows = 0;
            try
            {
                for (var start = 0; start < rows.Count; start += size)
                {
                    var count = Math.Min(size, rows.Count - start);
                    if (statement is null || statementRows != count)
                    {
                        statement?.Dispose();
                        Check(raw.sqlite3_prepare_v2(handle, columns.Sql(count), out statement), handle);
                        statementRows = count;
                    }

                    var index = 1;
                    for (var row = start; row < start + count; row++)
                    {
                        foreach (var column in columns.All)
                        {
                            Check(Bind(statement, index++, column.Value(rows[row]), ref text), handle);
                        }
                    }

                    int rc;
                    while ((rc = raw.sqlite3_step(statement)) == raw.SQLITE_ROW)
                    {
                        inserted.Add(raw.sqlite3_column_text(statement, 0).utf8_to_string());
                    }

                    raw.sqlite3_reset(statement);
                    if (rc != raw.SQLITE_DONE)
                    {
                        SqliteException.ThrowExceptionForRC(rc, handle);
                    }
                }
            }
            finally
            {
                statement?.Dispose();
            }
        }

        private static int Bind(sqlite3_stmt statement, int index, object? value, ref byte[] buffer)
        {
            switch (value)
            {
                case null:
                    return raw.sqlite3_bind_null(statement, index);
                case string s:
                    var length = System.Text.Encoding.UTF8.GetMaxByteCount(s.Length);
                    if (buffer.Length < length)
                    {
                        buffer = new byte[length];
                    }

                    return raw.sqlite3_bind_text(statement, index, buffer.AsSpan(0, System.Text.Encoding.UTF8.GetBytes(s, buffer)));
                case int i:
                    return raw.sqlite3_bind_int64(statement, index, i);
                case long l:
                    return raw.sqlite3_bind_int64(statement, index, l);
                case bool b:
                    return raw.sqlite3_bind_int64(statement, index, b ? 1 : 0);
                case Guid g:
                    Span<byte> guid = stackalloc byte[36];
                    g.TryFormat(guid, out _, "D");
                    System.Text.Ascii.ToUpperInPlace(guid, out _);
                    return raw.sqlite3_bind_text(statement, index, guid);
                case DateTime d:
                    Span<byte> date = stackalloc byte[32];
                    d.TryFormat(date, out var written, DateFormat, System.Globalization.CultureInfo.InvariantCulture);
                    return raw.sqlite3_bind_text(statement, index, date[..written]);
                default:
                    throw new InvalidCastException($"No SQLite binding for {value.GetType().Name}.");
            }
        }
    }

    /// <summary>
    /// Sets <c>temp_store = MEMORY</c> on the open connection's native handle: through EF Core's
    /// command pipeline the pragma cost the writer more per batch than a dozen rows.
    /// </summary>
    public static void KeepTempStoreInMemory(SqliteConnection connection)
    {
        var handle = connection.Handle ?? throw new InvalidOperationException("The SQLite connection is not open.");
        Check(raw.sqlite3_exec(handle, "PRAGMA temp_store = MEMORY"), handle);
    }

    private static void Check(int rc, sqlite3 handle)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, handle);
        }
    }

    private static readonly string[] Placeholders = [.. Enumerable.Range(1, 100 * Values.Length).Select(i => "$" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The column list and statement texts of one model (one per provider), built once.</summary>
    private sealed class Columns
    {
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IModel, Columns> ByModel = [];
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _sql = new();
        private readonly string _prefix;
        private readonly string _suffix;

        private Columns(IModel model, ISqlGenerationHelper sql)
        {
            var entity = model.FindEntityType(typeof(UsageLog))!;
            All = [.. Values.Select(v =>
            {
                var property = entity.FindProperty(v.Property)!;
                return new Column(sql.DelimitIdentifier(property.GetColumnName()), (RelationalTypeMapping)property.GetRelationalTypeMapping(), property.IsNullable, v.Value);
            })];
            var stored = entity.GetProperties().Where(p => p.ValueGenerated == ValueGenerated.Never).Select(p => p.Name).Order(StringComparer.Ordinal);
            if (!stored.SequenceEqual(Values.Select(v => v.Property).Order(StringComparer.Ordinal)))
            {
                throw new InvalidOperationException("UsageLogInsert must write every stored column of usage_logs; update its column list.");
            }

            var requestId = sql.DelimitIdentifier(entity.FindProperty(nameof(UsageLog.RequestId))!.GetColumnName());
            _prefix = $"INSERT INTO {sql.DelimitIdentifier(entity.GetTableName()!, entity.GetSchema())} ({string.Join(", ", All.Select(c => c.Name))}) VALUES ";
            _suffix = $" ON CONFLICT ({requestId}) DO NOTHING RETURNING {requestId}";
        }

        public Column[] All { get; }

        /// <summary>PostgreSQL numbers its placeholders (<c>$1</c>); SQLite takes anonymous <c>?</c>s in order.</summary>
        private bool Numbered { get; init; }

        public static Columns For(GatewayDbContext db) =>
            ByModel.GetValue(db.Model, model => new Columns(model, db.GetService<ISqlGenerationHelper>()) { Numbered = db.Provider == DatabaseProvider.Postgres });

        public string Sql(int rows) => _sql.GetOrAdd(rows, count =>
        {
            var builder = new StringBuilder(_prefix, _prefix.Length + (count * All.Length * 8) + _suffix.Length);
            var index = 0;
            for (var row = 0; row < count; row++)
            {
                builder.Append(row == 0 ? "(" : ", (");
                for (var column = 0; column < All.Length; column++)
                {
                    builder.Append(column == 0 ? string.Empty : ", ").Append(Numbered ? Placeholders[index++] : "?");
                }

                builder.Append(')');
            }

            return builder.Append(_suffix).ToString();
        });
    }
}
