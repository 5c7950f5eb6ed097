using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Data;

/// <summary>How a context is wired to its provider; shared by the host and the design-time factories.</summary>
public static class DatabaseSetup
{
    public static void UseSqlite(DbContextOptionsBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder
            .UseSqlite(connectionString, o => o.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();
    }

    public static void UsePostgres(DbContextOptionsBuilder builder, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder
            .UseNpgsql(connectionString, o => o.MigrationsHistoryTable("__ef_migrations_history"))
            .UseSnakeCaseNamingConvention();
    }
}
