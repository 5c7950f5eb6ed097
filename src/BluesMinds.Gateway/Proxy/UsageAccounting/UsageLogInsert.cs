using System.Text;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using SQLitePCL;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Inserts <c>usage_logs</c> rows with <c>INSERT … ON CONFLICT (request_id) DO NOTHING RETURNING
/// request_id</c> statements of up to <see cref="RowsPerStatement"/> rows. Change tracking cost the
/// writer about as much CPU per record as the whole request path; this costs a few microseconds per
/// row, and the returned ids tell exactly which rows are new, without a query first.
/// Column names come from the EF Core model, and on PostgreSQL the column types the arrays are cast
/// to; on SQLite the value formats are written out in <see cref="SqliteRows"/>. Either way
/// the rows are the ones <c>SaveChanges</c> would write: a test compares them column by column.
/// </summary>
internal static class UsageLogInsert
{
    /// <summary>
    /// Rows per statement: a thousand on PostgreSQL, where a statement takes one array per column
    /// (<c>unnest</c>), so that its text, parse and plan do not grow with the rows; fifty on SQLite,
    /// where every statement pays for its own journal and sequence update. SQLite statements
    /// are bound by position through SQLitePCLRaw: Microsoft.Data.Sqlite binds by name with a linear
    /// search (quadratic in a wide statement), and its per-execution overhead was more than a third of
    /// the writer's CPU.
    /// </summary>
    public static int RowsPerStatement(DatabaseProvider provider) => provider == DatabaseProvider.Sqlite ? 50 : 1_000;

    // Each column's values twice: gathered into one typed array per statement for PostgreSQL, and
    // bound straight from the row for SQLite, where boxing a dozen value types per row was the
    // writer's largest allocation.
    private static readonly (string Property, ColumnArray Array, SqliteRows.Binder Bind)[] Values =
    [
        (nameof(UsageLog.RequestId), Array(static r => r.RequestId), static (s, i, r, ref b) => SqliteRows.Text(s, i, r.RequestId, ref b)),
        (nameof(UsageLog.UserId), Array(static r => r.UserId), static (s, i, r, ref b) => SqliteRows.Guid(s, i, r.UserId)),
        (nameof(UsageLog.ApiKeyId), Array(static r => r.ApiKeyId), static (s, i, r, ref b) => SqliteRows.Guid(s, i, r.ApiKeyId)),
        (nameof(UsageLog.Endpoint), Array(static r => r.Endpoint), static (s, i, r, ref b) => SqliteRows.Text(s, i, r.Endpoint, ref b)),
        (nameof(UsageLog.ModelRequested), Array(static r => r.ModelRequested), static (s, i, r, ref b) => SqliteRows.Text(s, i, r.ModelRequested, ref b)),
        (nameof(UsageLog.ModelServed), Array(static r => r.ModelServed), static (s, i, r, ref b) => SqliteRows.Text(s, i, r.ModelServed, ref b)),
        (nameof(UsageLog.ServerId), Array(static r => r.ServerId), static (s, i, r, ref b) => SqliteRows.Guid(s, i, r.ServerId)),
        (nameof(UsageLog.PromptTokens), Array(static r => r.PromptTokens), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.PromptTokens)),
        (nameof(UsageLog.CompletionTokens), Array(static r => r.CompletionTokens), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.CompletionTokens)),
        (nameof(UsageLog.CachedTokens), Array(static r => r.CachedTokens), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.CachedTokens)),
        (nameof(UsageLog.TotalTokens), Array(static r => r.TotalTokens), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.TotalTokens)),
        (nameof(UsageLog.TokensEstimated), Array(static r => r.TokensEstimated), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.TokensEstimated ? 1 : 0)),
        (nameof(UsageLog.CostMicros), Array(static r => r.CostMicros), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.CostMicros)),
        (nameof(UsageLog.LatencyMs), Array(static r => r.LatencyMs), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.LatencyMs)),
        (nameof(UsageLog.TimeToFirstByteMs), Array(static r => r.TimeToFirstByteMs), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.TimeToFirstByteMs)),
        (nameof(UsageLog.Streamed), Array(static r => r.Streamed), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.Streamed ? 1 : 0)),
        (nameof(UsageLog.ClientDisconnected), Array(static r => r.ClientDisconnected), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.ClientDisconnected ? 1 : 0)),
        (nameof(UsageLog.StatusCode), Array(static r => r.StatusCode), static (s, i, r, ref b) => SqliteRows.Integer(s, i, r.StatusCode)),
        (nameof(UsageLog.ErrorCode), Array(static r => r.ErrorCode), static (s, i, r, ref b) => SqliteRows.Text(s, i, r.ErrorCode, ref b)),
        (nameof(UsageLog.CreatedAt), Array(static r => r.CreatedAt), static (s, i, r, ref b) => SqliteRows.Date(s, i, r.CreatedAt)),
    ];

    /// <summary>
    /// PostgreSQL: inserts the rows inside the context's current transaction and returns the request
    /// ids that were new; rows whose request id is already stored are left as they are. SQLite's
    /// rows go through <see cref="SqliteUsageConnection"/>.
    /// </summary>
    public static async Task<HashSet<string>> InsertNewAsync(GatewayDbContext db, IReadOnlyList<UsageLog> rows)
    {
        var columns = Columns.For(db);
        var connection = db.Database.GetDbConnection();
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("Usage rows are inserted inside a transaction.");
        var inserted = new HashSet<string>(rows.Count, StringComparer.Ordinal);
        var size = RowsPerStatement(db.Provider);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = columns.ArraySql;
        for (var start = 0; start < rows.Count; start += size)
        {
            var count = Math.Min(size, rows.Count - start);
            command.Parameters.Clear();
            foreach (var column in columns.All)
            {
                // Unnamed: Npgsql sends them as $1, $2... in order; the statement casts each array.
                var parameter = command.CreateParameter();
                parameter.Value = column.Array(rows, start, count);
                if (column.StoreType == "timestamp with time zone" && parameter is NpgsqlParameter typed)
                {
                    // A date that is not UTC fails as it would through SaveChanges, instead of being
                    // read in the session's time zone by the cast.
                    typed.NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz;
                }

                command.Parameters.Add(parameter);
            }

            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                inserted.Add(reader.GetString(0));
            }
        }

        return inserted;
    }

    /// <summary>One column's values of rows <c>[start, start + count)</c> as a typed array.</summary>
    internal delegate object ColumnArray(IReadOnlyList<UsageLog> rows, int start, int count);

    private static ColumnArray Array<T>(Func<UsageLog, T> value) => (rows, start, count) =>
    {
        var values = new T[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = value(rows[start + i]);
        }

        return values;
    };

    internal sealed record Column(string Name, string StoreType, ColumnArray Array, SqliteRows.Binder Bind);

    /// <summary>
    /// SQLite values bound by position through SQLitePCLRaw, in the formats Microsoft.Data.Sqlite
    /// gives EF Core's SQLite mappings (GUIDs as upper-case text, dates as
    /// <c>yyyy-MM-dd HH:mm:ss.FFFFFFF</c> text, days as <c>yyyy-MM-dd</c>, booleans as 0/1).
    /// </summary>
    internal static class SqliteRows
    {
        private const string DateFormat = @"yyyy\-MM\-dd HH\:mm\:ss.FFFFFFF";
        private const string DayFormat = @"yyyy\-MM\-dd";

        public delegate int Binder(sqlite3_stmt statement, int index, UsageLog row, ref byte[] buffer);

        public static int Text(sqlite3_stmt statement, int index, string? value, ref byte[] buffer)
        {
            if (value is null)
            {
                return raw.sqlite3_bind_null(statement, index);
            }

            var length = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length);
            if (buffer.Length < length)
            {
                buffer = new byte[length];
            }

            return raw.sqlite3_bind_text(statement, index, buffer.AsSpan(0, System.Text.Encoding.UTF8.GetBytes(value, buffer)));
        }

        public static int Integer(sqlite3_stmt statement, int index, long? value) =>
            value is { } number ? raw.sqlite3_bind_int64(statement, index, number) : raw.sqlite3_bind_null(statement, index);

        public static int Guid(sqlite3_stmt statement, int index, Guid? value)
        {
            if (value is not { } guid)
            {
                return raw.sqlite3_bind_null(statement, index);
            }

            Span<byte> text = stackalloc byte[36];
            guid.TryFormat(text, out _, "D");
            System.Text.Ascii.ToUpperInPlace(text, out _);
            return raw.sqlite3_bind_text(statement, index, text);
        }

        public static int Date(sqlite3_stmt statement, int index, DateTime value)
        {
            Span<byte> text = stackalloc byte[32];
            value.TryFormat(text, out var written, DateFormat, System.Globalization.CultureInfo.InvariantCulture);
            return raw.sqlite3_bind_text(statement, index, text[..written]);
        }

        public static int Day(sqlite3_stmt statement, int index, DateOnly value)
        {
            Span<byte> text = stackalloc byte[16];
            value.TryFormat(text, out var written, DayFormat, System.Globalization.CultureInfo.InvariantCulture);
            return raw.sqlite3_bind_text(statement, index, text[..written]);
        }
    }

    /// <summary>The column list and statement texts of one model (one per provider), built once.</summary>
    internal sealed class Columns
    {
        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IModel, Columns> ByModel = [];
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Rows, bool Returning), string> _sql = new();
        private readonly string _prefix;
        private readonly string _conflict;
        private readonly string _returning;

        private Columns(IModel model, ISqlGenerationHelper sql)
        {
            var entity = model.FindEntityType(typeof(UsageLog))!;
            All = [.. Values.Select(v =>
            {
                var property = entity.FindProperty(v.Property)!;
                return new Column(sql.DelimitIdentifier(property.GetColumnName()), property.GetColumnType(), v.Array, v.Bind);
            })];
            var stored = entity.GetProperties().Where(p => p.ValueGenerated == ValueGenerated.Never).Select(p => p.Name).Order(StringComparer.Ordinal);
            if (!stored.SequenceEqual(Values.Select(v => v.Property).Order(StringComparer.Ordinal)))
            {
                throw new InvalidOperationException("UsageLogInsert must write every stored column of usage_logs; update its column list.");
            }

            var requestId = sql.DelimitIdentifier(entity.FindProperty(nameof(UsageLog.RequestId))!.GetColumnName());
            var insert = $"INSERT INTO {sql.DelimitIdentifier(entity.GetTableName()!, entity.GetSchema())} ({string.Join(", ", All.Select(c => c.Name))})";
            _prefix = insert + " VALUES ";
            _conflict = $" ON CONFLICT ({requestId}) DO NOTHING";
            _returning = $" RETURNING {requestId}";
            ArraySql = $"{insert} SELECT * FROM unnest({string.Join(", ", All.Select((c, i) => $"${i + 1}::{c.StoreType}[]"))}){_conflict}{_returning}";
        }

        /// <summary>PostgreSQL: every row of a statement from one array per column.</summary>
        public string ArraySql { get; }

        public Column[] All { get; }

        public static Columns For(GatewayDbContext db) =>
            ByModel.GetValue(db.Model, model => new Columns(model, db.GetService<ISqlGenerationHelper>()));

        /// <summary>
        /// SQLite: a statement of <paramref name="rows"/> rows by position, returning the request ids
        /// it inserted, or without <paramref name="returning"/> for rows known to be new (SQLite
        /// gathers returned rows in a temporary table, and each came back through its own step).
        /// </summary>
        public string Sql(int rows, bool returning = true) => _sql.GetOrAdd((rows, returning), key =>
        {
            var count = key.Rows;
            var builder = new StringBuilder(_prefix, _prefix.Length + (count * All.Length * 8) + _conflict.Length + _returning.Length);
            for (var row = 0; row < count; row++)
            {
                builder.Append(row == 0 ? "(" : ", (");
                for (var column = 0; column < All.Length; column++)
                {
                    builder.Append(column == 0 ? string.Empty : ", ").Append('?');
                }

                builder.Append(')');
            }

            return builder.Append(_conflict).Append(key.Returning ? _returning : string.Empty).ToString();
        });
    }
}
