using BluesMinds.Gateway.Hosting.Logging;
using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Health;

/// <summary>
/// Redis answers a PING. When it does not, the answer follows <c>RATE_LIMIT_REDIS_FAILURE_MODE</c>:
/// <c>closed</c> is not ready (API requests are refused), <c>open</c> is degraded but ready (limits
/// are enforced per instance until Redis is back).
/// </summary>
internal sealed class RedisHealthCheck(RedisConnection redis, IOptions<RateLimitOptions> limits, ILogger<RedisHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var multiplexer = await redis.GetAsync().WaitAsync(cancellationToken);
            if (!multiplexer.IsConnected)
            {
                // Answer at once: a PING would wait in the reconnect queue past the probe's timeout.
                return Unreachable(null);
            }

            // Shorter than the check's own timeout, so a hung Redis is reported by this check's rules.
            await multiplexer.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy("rate limits shared across replicas");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Unreachable(ex);
        }
    }

    private HealthCheckResult Unreachable(Exception? exception)
    {
        Log.HealthCheckFailed(logger, "redis", exception);
        return limits.Value.RedisFailureMode == "open"
            ? HealthCheckResult.Degraded("cannot connect; rate limits are enforced per instance until it answers (RATE_LIMIT_REDIS_FAILURE_MODE=open)")
            : HealthCheckResult.Unhealthy("cannot connect; API requests are refused until it answers (RATE_LIMIT_REDIS_FAILURE_MODE=closed)");
    }
}
