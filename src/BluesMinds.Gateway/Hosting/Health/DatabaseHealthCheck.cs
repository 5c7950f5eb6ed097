using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Logging;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BluesMinds.Gateway.Hosting.Health;

/// <summary>Ready only when the database answers and every migration is applied.</summary>
internal sealed class DatabaseHealthCheck(IServiceScopeFactory scopes, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetService<GatewayDbContext>();
        if (db is null)
        {
            return HealthCheckResult.Unhealthy("database is not configured");
        }

        try
        {
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                return HealthCheckResult.Unhealthy("cannot connect, or the database does not exist");
            }

            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).Count();
            return pending == 0
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"{pending} migration(s) pending; run the migrate command");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The exception may name hosts; it goes to the log, never to the response.
            Log.HealthCheckFailed(logger, "database", ex);
            return HealthCheckResult.Unhealthy("cannot connect");
        }
    }
}
