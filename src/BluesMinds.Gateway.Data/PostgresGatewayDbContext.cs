using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Data;

/// <summary>The production database: PostgreSQL through Npgsql.</summary>
public sealed class PostgresGatewayDbContext(DbContextOptions<PostgresGatewayDbContext> options) : GatewayDbContext(options)
{
    public override DatabaseProvider Provider => DatabaseProvider.Postgres;
}
