using BluesMinds.Gateway.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>An empty database owned by one test: a temporary SQLite file, or a fresh PostgreSQL database dropped afterwards.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly string? _adminConnectionString;
    private readonly string? _databaseName;

    private TestDatabase(DatabaseProvider provider, string url, string connectionString, string directory, string? adminConnectionString, string? databaseName)
    {
        Provider = provider;
        Url = url;
        ConnectionString = connectionString;
        Directory = directory;
        _adminConnectionString = adminConnectionString;
        _databaseName = databaseName;
    }

    public DatabaseProvider Provider { get; }

    /// <summary>The value for <c>DATABASE_URL</c>.</summary>
    public string Url { get; }

    public string ConnectionString { get; }

    /// <summary>A scratch folder for this test (data directory, SQLite file).</summary>
    public string Directory { get; }

    public static Task<TestDatabase> CreateAsync() => CreateAsync(TestEnvironmentVariables.Provider);

    public static async Task<TestDatabase> CreateAsync(DatabaseProvider provider)
    {
        var directory = Path.Combine(Path.GetTempPath(), "bm-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        if (provider == DatabaseProvider.Sqlite)
        {
            var file = Path.Combine(directory, "gateway.db");
            return new TestDatabase(provider, "Data Source=" + file, DatabaseConnection.ToSqliteConnectionString(file), directory, null, null);
        }

        var admin = DatabaseConnection.ToNpgsqlConnectionString(TestEnvironmentVariables.PostgresAdminUrl);
        var name = "bm_test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false };
        return new TestDatabase(provider, builder.ConnectionString, builder.ConnectionString, directory, admin, name);
    }

    /// <summary>
    /// Best effort: a background process of the server (autovacuum) can hold the database for a moment
    /// and a non-superuser may not end it; a database left behind on a throw-away server harms nothing.
    /// </summary>
    private async Task DropAsync()
    {
        NpgsqlConnection.ClearAllPools();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_adminConnectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_databaseName}\" WITH (FORCE)", connection);
                await command.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException) when (attempt < 5)
            {
                await Task.Delay(200 * attempt);
            }
            catch (PostgresException)
            {
                return;
            }
        }
    }

    /// <summary>Makes sure the database exists, without any table (a PostgreSQL database already does).</summary>
    public async Task CreateEmptyAsync()
    {
        await using var db = OpenContext();
        await db.Database.OpenConnectionAsync();
        await db.Database.CloseConnectionAsync();
    }

    public GatewayDbContext OpenContext()
    {
        if (Provider == DatabaseProvider.Sqlite)
        {
            var options = new DbContextOptionsBuilder<SqliteGatewayDbContext>();
            DatabaseSetup.UseSqlite(options, ConnectionString);
            return new SqliteGatewayDbContext(options.Options);
        }

        var postgres = new DbContextOptionsBuilder<PostgresGatewayDbContext>();
        DatabaseSetup.UsePostgres(postgres, ConnectionString);
        return new PostgresGatewayDbContext(postgres.Options);
    }

    /// <summary>Names of the tables in the database, from the engine's own catalogue.</summary>
    public async Task<IReadOnlyList<string>> TableNamesAsync() =>
        (await QueryAsync(Provider == DatabaseProvider.Sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).Select(r => r[0]).ToList();

    public async Task<IReadOnlyList<string>> ColumnNamesAsync(string table) =>
        (await QueryAsync(
            Provider == DatabaseProvider.Sqlite
                ? "SELECT name FROM pragma_table_info(@table)"
                : "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = @table",
            table)).Select(r => r[0]).ToList();

    /// <summary>Index name → its definition (SQL text), from the engine's catalogue.</summary>
    public async Task<IReadOnlyDictionary<string, string>> IndexesAsync(string table) =>
        (await QueryAsync(
            Provider == DatabaseProvider.Sqlite
                ? "SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = @table"
                : "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = @table",
            table)).ToDictionary(r => r[0], r => r[1]);

    /// <summary>Runs a query with an optional <c>@table</c> parameter and returns every row as text.</summary>
    public async Task<IReadOnlyList<string[]>> QueryAsync(string sql, string? table = null)
    {
        await using var db = OpenContext();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (table is not null)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@table";
            parameter.Value = table;
            command.Parameters.Add(parameter);
        }

        var rows = new List<string[]>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new string[reader.FieldCount];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? string.Empty : reader.GetValue(i) switch
                {
                    // Bytes as text and as hex, so a search finds a secret stored either way.
                    byte[] bytes => System.Text.Encoding.Latin1.GetString(bytes) + "|" + Convert.ToHexString(bytes),
                    var value => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!,
                };
            }

            rows.Add(row);
        }

        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        if (Provider == DatabaseProvider.Sqlite)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }

        if (_adminConnectionString is not null)
        {
            await DropAsync();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A process that has not quite exited may still hold a file; the OS temp cleaner takes it.
        }
    }
}
