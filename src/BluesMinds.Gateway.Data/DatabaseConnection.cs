using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BluesMinds.Gateway.Data;

/// <summary>
/// Turns the operator's <c>DATABASE_URL</c> into a provider connection string. Error messages name
/// the problem but never echo the value, which may hold a password.
/// </summary>
public static class DatabaseConnection
{
    /// <summary>
    /// Accepts <c>postgres://user:pass@host:port/db?sslmode=require</c> (also <c>postgresql://</c>)
    /// or an Npgsql connection string (<c>Host=...;Database=...</c>).
    /// </summary>
    /// <exception cref="FormatException">The value is neither; the message is safe to print.</exception>
    public static string ToNpgsqlConnectionString(string databaseUrl)
    {
        ArgumentNullException.ThrowIfNull(databaseUrl);
        var value = databaseUrl.Trim();
        if (value.Length == 0)
        {
            throw new FormatException("DATABASE_URL is empty.");
        }

        if (value.Contains("://", StringComparison.Ordinal))
        {
            return FromUrl(value);
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(value);
            if (string.IsNullOrWhiteSpace(builder.Host))
            {
                throw new FormatException("DATABASE_URL is a connection string without Host.");
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            throw new FormatException("DATABASE_URL is neither a postgres:// URL nor a valid Npgsql connection string.");
        }
    }

    /// <summary>
    /// Whether the value names a PostgreSQL database (not whether it does so validly): a
    /// <c>postgres://</c> or <c>postgresql://</c> URL, or a connection string with <c>Host</c> (or
    /// its synonym <c>Server</c>), keywords SQLite does not have.
    /// </summary>
    public static bool IsPostgres(string? value)
    {
        var trimmed = value?.TrimStart();
        if (string.IsNullOrEmpty(trimmed))
        {
            return false;
        }

        if (trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (trimmed.Contains("://", StringComparison.Ordinal) || !trimmed.Contains('=', StringComparison.Ordinal))
        {
            return false;
        }

        // The generic builder, not Npgsql's: the embedded mode must not load Npgsql to decide.
        try
        {
            var keywords = new DbConnectionStringBuilder { ConnectionString = trimmed };
            return keywords.ContainsKey("Host") || keywords.ContainsKey("Server");
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A SQLite connection string for a file path or an explicit connection string.</summary>
    public static string ToSqliteConnectionString(string pathOrConnectionString)
    {
        ArgumentNullException.ThrowIfNull(pathOrConnectionString);
        var value = pathOrConnectionString.Trim();
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            value = value["sqlite:".Length..].TrimStart('/');
        }

        try
        {
            var builder = value.Contains('=', StringComparison.Ordinal)
                ? new SqliteConnectionStringBuilder(value)
                : new SqliteConnectionStringBuilder { DataSource = value };
            if (string.IsNullOrWhiteSpace(builder.DataSource))
            {
                throw new FormatException("The SQLite connection string has no Data Source.");
            }

            // Wait for a concurrent writer instead of failing with SQLITE_BUSY at once.
            if (builder.DefaultTimeout < 30)
            {
                builder.DefaultTimeout = 30;
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            throw new FormatException("The SQLite connection string is not valid.");
        }
    }

    /// <summary>Where the database is, for logs and errors: host, port and name, never credentials.</summary>
    public static string Describe(DatabaseProvider provider, string connectionString)
    {
        try
        {
            return provider == DatabaseProvider.Postgres ? DescribePostgres(connectionString) : DescribeSqlite(connectionString);
        }
        catch (ArgumentException)
        {
            return provider.ToString().ToLowerInvariant();
        }
    }

    // Each provider's builder in a method of its own: compiling Describe must not load the other
    // provider's assembly (Npgsql in the embedded mode).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string DescribePostgres(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return string.Create(CultureInfo.InvariantCulture, $"postgres {builder.Host}:{builder.Port}/{builder.Database}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string DescribeSqlite(string connectionString) => "sqlite " + new SqliteConnectionStringBuilder(connectionString).DataSource;

    private static string FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new FormatException("DATABASE_URL is not a valid URL (expected postgres://user:password@host:port/database).");
        }

        if (uri.Scheme is not ("postgres" or "postgresql"))
        {
            throw new FormatException($"DATABASE_URL has scheme '{uri.Scheme}'; expected postgres:// or postgresql://.");
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            throw new FormatException("DATABASE_URL has no host.");
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new FormatException("DATABASE_URL must name exactly one database after the host (postgres://…/database).");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
        };

        if (uri.UserInfo.Length > 0)
        {
            var separator = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(separator < 0 ? uri.UserInfo : uri.UserInfo[..separator]);
            if (separator >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(separator + 1)..]);
            }
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var parameter = Uri.UnescapeDataString(equals < 0 ? string.Empty : pair[(equals + 1)..]);
            try
            {
                builder[key] = parameter;
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
            {
                throw new FormatException($"DATABASE_URL has an unknown or invalid parameter '{key}'.");
            }
        }

        return builder.ConnectionString;
    }
}
