using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>
/// The upstream summary in <c>/api/health</c>: degraded when some enabled servers are unavailable,
/// unhealthy when none is. Not part of readiness: an upstream outage must not take every gateway
/// pod out of the load balancer, where it could at least answer 503 in OpenAI's format.
/// </summary>
internal sealed class UpstreamsHealthCheck(RoutingTableSource tables, UpstreamHealthRegistry health, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var enabled = tables.Current?.Servers.Where(s => s.Enabled).ToList() ?? [];
        if (enabled.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("no upstream servers enabled"));
        }

        var now = time.GetUtcNow();
        var available = enabled.Count(s => health.For(s.Id).IsAvailable(now));
        var summary = $"{available} of {enabled.Count} enabled upstream servers available";
        return Task.FromResult(available == enabled.Count
            ? HealthCheckResult.Healthy(summary)
            : available == 0 ? HealthCheckResult.Unhealthy(summary) : HealthCheckResult.Degraded(summary));
    }
}
