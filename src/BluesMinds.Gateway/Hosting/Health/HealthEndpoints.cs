using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BluesMinds.Gateway.Hosting.Health;

/// <summary>
/// <c>/api/health/live</c> touches nothing; <c>/api/health/ready</c> runs the readiness checks;
/// <c>/api/health</c> reports status, version, uptime and each check. None reveals hosts or secrets.
/// </summary>
internal static class HealthEndpoints
{
    private static readonly Dictionary<HealthStatus, int> StatusCodes = new()
    {
        [HealthStatus.Healthy] = 200,
        [HealthStatus.Degraded] = 200,
        [HealthStatus.Unhealthy] = 503,
    };

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/api/health/live", new HealthCheckOptions
        {
            Predicate = _ => false,
            ResponseWriter = (context, _) => WriteAsync(context, new { status = "alive" }),
        });
        app.MapHealthChecks("/api/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(HealthRegistration.ReadyTag),
            ResultStatusCodes = StatusCodes,
            ResponseWriter = (context, report) => WriteAsync(context, new
            {
                status = Name(report.Status),
                checks = Checks(report),
            }),
        });
        app.MapHealthChecks("/api/health", new HealthCheckOptions
        {
            ResultStatusCodes = StatusCodes,
            ResponseWriter = (context, report) =>
            {
                var started = context.RequestServices.GetRequiredService<ProcessStart>().At;
                var time = context.RequestServices.GetRequiredService<TimeProvider>();
                return WriteAsync(context, new
                {
                    status = Name(report.Status),
                    version = GatewayVersion.Current,
                    uptime_seconds = (long)(time.GetUtcNow() - started).TotalSeconds,
                    checks = Checks(report),
                });
            },
        });
        return app;
    }

    private static Dictionary<string, object> Checks(HealthReport report) =>
        report.Entries.ToDictionary(
            e => e.Key,
            e => (object)new
            {
                status = Name(e.Value.Status),
                latency_ms = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                error = e.Value.Status == HealthStatus.Healthy ? null : e.Value.Description ?? "failed",
                detail = e.Value.Status == HealthStatus.Healthy ? e.Value.Description : null,
            });

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    private static Task WriteAsync(HttpContext context, object body)
    {
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return JsonSerializer.SerializeAsync(context.Response.Body, body, body.GetType(), cancellationToken: context.RequestAborted);
    }
}
