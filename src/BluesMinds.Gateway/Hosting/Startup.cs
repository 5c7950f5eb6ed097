using BluesMinds.Gateway.Hosting.Configuration;
using BluesMinds.Gateway.Hosting.Database;
using BluesMinds.Gateway.Hosting.Logging;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting;

/// <summary>What happens once between a valid configuration and serving: start-up logs and migrations.</summary>
internal sealed class Startup(WebApplication app, DevelopmentSecretsOutcome developmentSecrets)
{
    /// <returns>False when the gateway must not serve (the reason was printed).</returns>
    public async Task<bool> PrepareAsync()
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BluesMinds.Gateway.Startup");
        var target = app.Services.GetRequiredService<DatabaseTarget>();
        Log.Starting(logger, GatewayVersion.Current, app.Environment.EnvironmentName, target.Description);
        Log.InlineSocketIo(logger, Http.InlineSocketIo.Enabled);
        Log.GarbageCollector(logger, GarbageCollectorSettings.Mode, GarbageCollectorSettings.Gen0MaxBudgetBytes);

        if (developmentSecrets is DevelopmentSecretsOutcome.Generated or DevelopmentSecretsOutcome.Reused)
        {
            Log.DevelopmentSecrets(logger, developmentSecrets, DevelopmentSecrets.FilePath(app.Configuration, app.Environment.ContentRootPath));
        }

        if (app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value.AdminEmailList().Count == 0)
        {
            Log.NoAdmins(logger);
        }

        var database = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (database.MigrateOnStartup ?? app.Environment.IsDevelopment())
        {
            try
            {
                await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
            }
            catch (DatabaseUnavailableException ex)
            {
                await Console.Error.WriteLineAsync("BluesMinds Gateway cannot start: " + ex.Message);
                return false;
            }
        }

        return true;
    }
}
