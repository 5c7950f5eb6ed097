using BluesMinds.Gateway.Hosting.Logging;
using BluesMinds.Gateway.Hosting.Redis;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BluesMinds.Gateway.Hosting.Health;

/// <summary>Ready only when Redis answers a PING.</summary>
internal sealed class RedisHealthCheck(RedisConnection redis, ILogger<RedisHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var multiplexer = await redis.GetAsync().WaitAsync(cancellationToken);
            await multiplexer.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.HealthCheckFailed(logger, "redis", ex);
            return HealthCheckResult.Unhealthy("cannot connect");
        }
    }
}
