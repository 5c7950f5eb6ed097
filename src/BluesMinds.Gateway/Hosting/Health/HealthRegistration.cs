using BluesMinds.Gateway.Hosting.Redis;

namespace BluesMinds.Gateway.Hosting.Health;

/// <summary>Registers the readiness checks: the database always, Redis when <c>REDIS_URL</c> is set.</summary>
internal static class HealthRegistration
{
    public const string ReadyTag = "ready";

    public static WebApplicationBuilder AddGatewayHealth(this WebApplicationBuilder builder)
    {
        var checks = builder.Services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(5));

        if (builder.Services.HasRedis())
        {
            checks.AddCheck<RedisHealthCheck>("redis", tags: [ReadyTag], timeout: TimeSpan.FromSeconds(3));
        }

        builder.Services.AddSingleton(new ProcessStart(TimeProvider.System.GetUtcNow()));
        return builder;
    }
}

/// <summary>When this process started, for the uptime in <c>/api/health</c>.</summary>
internal sealed record ProcessStart(DateTimeOffset At);
