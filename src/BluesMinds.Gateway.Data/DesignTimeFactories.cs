using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace BluesMinds.Gateway.Data;

/// <summary>Lets <c>dotnet ef</c> build the SQLite model without the host; no connection is opened.</summary>
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteGatewayDbContext>
{
    public SqliteGatewayDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<SqliteGatewayDbContext>();
        DatabaseSetup.UseSqlite(builder, "Data Source=design-time.db");
        return new SqliteGatewayDbContext(builder.Options);
    }
}

/// <summary>Lets <c>dotnet ef</c> build the PostgreSQL model without the host; no connection is opened.</summary>
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresGatewayDbContext>
{
    public PostgresGatewayDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<PostgresGatewayDbContext>();
        DatabaseSetup.UsePostgres(builder, "Host=localhost;Database=bluesminds_design");
        return new PostgresGatewayDbContext(builder.Options);
    }
}
