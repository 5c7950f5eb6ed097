using System.Data.Common;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Logging;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Database;

/// <summary>
/// Applies migrations, at start-up (<c>Database:MigrateOnStartup</c>) or as the <c>migrate</c> command.
/// Waits for an unreachable database up to <c>Database:StartupTimeoutSeconds</c>, then fails with a
/// message that names the database but not its credentials.
/// </summary>
internal sealed class DatabaseMigrator(
    IServiceScopeFactory scopes,
    DatabaseTarget target,
    IOptions<DatabaseOptions> options,
    TimeProvider time,
    ILogger<DatabaseMigrator> logger)
{
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        Log.Migrating(logger, target.Description);
        if (target.Provider == DatabaseProvider.Sqlite)
        {
            var file = new SqliteConnectionStringBuilder(target.ConnectionString).DataSource;
            var folder = Path.GetDirectoryName(Path.GetFullPath(file));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }
        }

        var deadline = time.GetUtcNow().AddSeconds(options.Value.StartupTimeoutSeconds);
        for (var attempt = 1; ; attempt++)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            try
            {
                var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
                await db.Database.MigrateAsync(cancellationToken);
                if (target.Provider == DatabaseProvider.Sqlite)
                {
                    // WAL lets readers (health, usage pages) proceed while the usage writer writes.
                    await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
                }

                Log.Migrated(logger, pending);
                return;
            }
            catch (DbException ex) when (IsTransient(ex) && time.GetUtcNow() < deadline)
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 250 * Math.Pow(2, Math.Min(attempt, 5))));
                Log.DatabaseRetry(logger, target.Description, attempt, (int)delay.TotalMilliseconds, ex);
                await Task.Delay(delay, time, cancellationToken);
            }
            catch (Exception ex) when (ex is DbException or InvalidOperationException or TimeoutException)
            {
                throw new DatabaseUnavailableException(
                    $"Could not migrate the database ({target.Description}): {SafeReason(ex)}", ex);
            }
        }
    }

    /// <summary>Connection-level failures are worth waiting for; SQL errors are not.</summary>
    private static bool IsTransient(DbException ex) => ex switch
    {
        Npgsql.NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is System.Net.Sockets.SocketException or TimeoutException,
        _ => ex.IsTransient,
    };

    private static string SafeReason(Exception ex)
    {
        var root = ex;
        while (root.InnerException is not null && root is not Npgsql.PostgresException)
        {
            root = root.InnerException;
        }

        return root switch
        {
            System.Net.Sockets.SocketException socket => $"cannot connect ({socket.SocketErrorCode})",
            TimeoutException => "timed out connecting",
            Npgsql.PostgresException postgres => $"PostgreSQL error {postgres.SqlState}: {postgres.MessageText}",
            SqliteException sqlite => $"SQLite error {sqlite.SqliteErrorCode}: {sqlite.Message}",
            _ => root.Message,
        };
    }
}

/// <summary>The database could not be reached or migrated; the message is safe to print.</summary>
internal sealed class DatabaseUnavailableException(string message, Exception inner) : Exception(message, inner);
