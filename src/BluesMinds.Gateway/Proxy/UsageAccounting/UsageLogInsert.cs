using System.Data.Common;
using System.Text;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Inserts <c>usage_logs</c> rows with <c>INSERT … ON CONFLICT (request_id) DO NOTHING RETURNING
/// request_id</c> statements, on both providers (<see cref="RowsPerStatement"/>). Change tracking cost the writer about as
/// much CPU per record as the whole request path; this costs a few microseconds per row, and the
/// returned ids tell exactly which rows are new, without a query first.
/// Column names and parameter formats come from the EF Core model, so the rows are the ones
/// <c>SaveChanges</c> would write.
/// </summary>
internal static class UsageLogInsert
{
    /// <summary>
    /// Rows per statement. PostgreSQL: a hundred (2,000 parameters), one round trip each. SQLite binds
    /// parameters by name with a linear search, so a wide statement costs quadratic time; there one
    /// row per execution of the same prepared statement is the fast way (measured against one
    /// statement per batch reading a JSON parameter with <c>json_each</c>, which spent more in JSON
    /// than it saved). Each of those statements copies the pages it touches to a statement journal,
    /// which is why <see cref="UsageStore"/> keeps SQLite's temporary files in memory.
    /// </summary>
    public static int RowsPerStatement(DatabaseProvider provider) => provider == DatabaseProvider.Sqlite ? 1 : 100;

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
                    // Same text, same command: SQLite keeps the statement prepared between executions.
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
                            command.Parameters.Add(column.Mapping.CreateParameter(command, columns.ParameterName(index++), value, column.Nullable));
                        }
                    }
                }

                // SQLite's async methods run synchronously anyway; the sync path allocates less.
                await using var reader = db.Provider == DatabaseProvider.Sqlite ? command.ExecuteReader() : await command.ExecuteReaderAsync();
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

    private static readonly string[] ParameterNames = [.. Enumerable.Range(0, 100 * Values.Length).Select(i => "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
    private static readonly string[] Placeholders = [.. Enumerable.Range(1, 100 * Values.Length).Select(i => "$" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    private sealed record Column(string Name, RelationalTypeMapping Mapping, bool Nullable, Func<UsageLog, object?> Value);

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

        /// <summary>
        /// PostgreSQL gets positional <c>$n</c> placeholders and unnamed parameters: Npgsql then sends
        /// the text as it is instead of parsing it to rewrite two thousand <c>@name</c>s.
        /// </summary>
        public bool Positional { get; private init; }

        public static Columns For(GatewayDbContext db) =>
            ByModel.GetValue(db.Model, model => new Columns(model, db.GetService<ISqlGenerationHelper>()) { Positional = db.Provider == DatabaseProvider.Postgres });

        public string ParameterName(int index) => Positional ? string.Empty : ParameterNames[index];

        public string Sql(int rows) => _sql.GetOrAdd(rows, count =>
        {
            var builder = new StringBuilder(_prefix, _prefix.Length + (count * All.Length * 8) + _suffix.Length);
            var index = 0;
            for (var row = 0; row < count; row++)
            {
                builder.Append(row == 0 ? "(" : ", (");
                for (var column = 0; column < All.Length; column++)
                {
                    builder.Append(column == 0 ? string.Empty : ", ").Append(Positional ? Placeholders[index++] : ParameterNames[index++]);
                }

                builder.Append(')');
            }

            return builder.Append(_suffix).ToString();
        });
    }
}
