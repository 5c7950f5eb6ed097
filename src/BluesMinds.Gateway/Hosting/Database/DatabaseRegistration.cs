using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Hosting.Database;

/// <summary>Registers the context for the configured provider; <see cref="GatewayDbContext"/> is what features ask for.</summary>
internal static class DatabaseRegistration
{
    public static WebApplicationBuilder AddGatewayDatabase(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.BindOrDefault<DatabaseOptions>(DatabaseOptions.Section) ?? new DatabaseOptions();
        var dataDirectory = AppOptions.ResolveDataDirectory(builder.Configuration["App:DataDirectory"], builder.Environment.ContentRootPath);

        string connectionString;
        try
        {
            connectionString = options.ConnectionString(dataDirectory);
        }
        catch (FormatException)
        {
            // DatabaseOptionsValidator reports the problem at start-up, with every other one.
            return builder;
        }

        options.TryGetProvider(out var provider);
        if (provider == DatabaseProvider.Postgres)
        {
            builder.Services.AddDbContextPool<GatewayDbContext, PostgresGatewayDbContext>(o => DatabaseSetup.UsePostgres(o, connectionString));
        }
        else
        {
            builder.Services.AddDbContextPool<GatewayDbContext, SqliteGatewayDbContext>(o => DatabaseSetup.UseSqlite(o, connectionString));
        }

        builder.Services.AddSingleton(new DatabaseTarget(provider, connectionString));
        builder.Services.AddSingleton<DatabaseMigrator>();
        return builder;
    }
}

/// <summary>The resolved database: provider and connection string (never logged; use <see cref="Description"/>).</summary>
internal sealed record DatabaseTarget(DatabaseProvider Provider, string ConnectionString)
{
    public string Description { get; } = DatabaseConnection.Describe(Provider, ConnectionString);
}
