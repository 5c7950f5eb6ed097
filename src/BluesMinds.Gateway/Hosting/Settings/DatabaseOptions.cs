using BluesMinds.Gateway.Data;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Database</c>: which engine, where, and whether to migrate at start-up.</summary>
internal sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>
    /// <c>Sqlite</c> or <c>Postgres</c>; kept as text so a typo gets a clear message. When not set,
    /// <c>Postgres</c> if <see cref="Url"/> is a postgres:// URL or a connection string with
    /// <c>Host</c>, and <c>Sqlite</c> otherwise: a PostgreSQL URL read as a SQLite path made a local
    /// database file named after the URL, password included, and the gateway ran on it without a word.
    /// </summary>
    public string? Provider { get; set; }

    /// <summary><c>DATABASE_URL</c>: a postgres:// URL or an Npgsql connection string (or a SQLite connection string).</summary>
    public string? Url { get; set; }

    /// <summary>The SQLite file when <see cref="Url"/> is not set; relative to the data directory.</summary>
    public string SqliteFile { get; set; } = "bluesminds.db";

    /// <summary>Apply migrations before serving; defaults to true in Development, false elsewhere.</summary>
    public bool? MigrateOnStartup { get; set; }

    /// <summary>How long start-up keeps retrying an unreachable database before it gives up.</summary>
    public int StartupTimeoutSeconds { get; set; } = 30;

    public bool TryGetProvider(out DatabaseProvider provider)
    {
        if (string.IsNullOrWhiteSpace(Provider))
        {
            provider = DatabaseConnection.IsPostgres(Url) ? DatabaseProvider.Postgres : DatabaseProvider.Sqlite;
            return true;
        }

        return Enum.TryParse(Provider.Trim(), ignoreCase: true, out provider) && Enum.IsDefined(provider);
    }

    /// <summary>The provider connection string; throws <see cref="FormatException"/> with a printable message.</summary>
    public string ConnectionString(string dataDirectory)
    {
        if (!TryGetProvider(out var provider))
        {
            throw new FormatException($"Database:Provider '{Provider}' is not supported; use Sqlite or Postgres.");
        }

        if (provider == DatabaseProvider.Postgres)
        {
            return string.IsNullOrWhiteSpace(Url)
                ? throw new FormatException("DATABASE_URL is required when Database:Provider is Postgres.")
                : DatabaseConnection.ToNpgsqlConnectionString(Url);
        }

        if (DatabaseConnection.IsPostgres(Url))
        {
            throw new FormatException("DATABASE_URL names a PostgreSQL database, but Database:Provider is Sqlite; set DATABASE_PROVIDER=Postgres (or leave it unset), or point DATABASE_URL at a SQLite file.");
        }

        return DatabaseConnection.ToSqliteConnectionString(
            string.IsNullOrWhiteSpace(Url) ? Path.GetFullPath(SqliteFile, dataDirectory) : Url);
    }
}

internal sealed class DatabaseOptionsValidator(IOptions<AppOptions> app, IHostEnvironment environment) : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var problems = new List<string>();
        try
        {
            options.ConnectionString(AppOptions.ResolveDataDirectory(app.Value.DataDirectory, environment.ContentRootPath));
        }
        catch (FormatException ex)
        {
            problems.Add(ex.Message);
        }

        if (options.StartupTimeoutSeconds is < 0 or > 3600)
        {
            problems.Add("Database:StartupTimeoutSeconds must be between 0 and 3600.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
