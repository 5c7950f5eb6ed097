using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Security;
using BluesMinds.Gateway.Proxy.Forwarding;
using BluesMinds.Gateway.Proxy.Limits;
using BluesMinds.Gateway.Proxy.ModelRouting;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy;

/// <summary>Registers the hot path: routing, health, forwarding and the usage seam.</summary>
internal static class ProxyRegistration
{
    public static WebApplicationBuilder AddProxy(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<UpstreamOptions>().Bind(builder.Configuration.GetSection(UpstreamOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamOptionsValidator>();
        services.AddSingleton<SecretProtector>();
        services.AddSingleton<UpstreamHealthRegistry>();
        services.AddSingleton(sp => new RoutingTableSource(
            sp.GetRequiredService<IServiceScopeFactory>(),
            sp.GetRequiredService<SecretProtector>(),
            sp.GetRequiredService<UpstreamHealthRegistry>(),
            sp.GetRequiredService<ILogger<RoutingTableSource>>(),
            sp.GetService<RedisConnection>()));
        services.AddHostedService(sp => new RoutingTableRefreshJob(
            sp.GetRequiredService<RoutingTableSource>(),
            sp.GetRequiredService<IOptions<UpstreamOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RoutingTableRefreshJob>>(),
            sp.GetService<RedisConnection>()));
        services.AddSingleton<ModelRouter>();
        services.AddSingleton<UpstreamClient>();
        services.AddSingleton<UpstreamForwarder>();
        services.AddSingleton<UpstreamHealthMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<UpstreamHealthMonitor>());
        services.AddSingleton<TokenCounter>();
        services.AddHostedService<TokenCounterWarmUp>();
        AddLimits(services);
        services.AddSingleton(sp => new PriceBook(sp.GetRequiredService<IServiceScopeFactory>(), sp.GetService<RedisConnection>()));
        services.AddHostedService(sp => new PriceBookRefreshJob(
            sp.GetRequiredService<PriceBook>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PriceBookRefreshJob>>(), sp.GetService<RedisConnection>()));
        services.AddSingleton<UsageQueue>();
        services.AddSingleton<UsageStore>();
        services.AddHostedService<UsageWriter>();
        services.AddSingleton<UsageRetentionJob>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageRetentionJob>());
        services.AddSingleton<ProxyPipeline>();
        services.AddHealthChecks().AddCheck<UpstreamsHealthCheck>("upstreams");
        return builder;
    }

    /// <summary>In-process limits for the embedded default; Redis (shared by every replica) when <c>REDIS_URL</c> is set.</summary>
    private static void AddLimits(IServiceCollection services)
    {
        services.AddSingleton<InProcessRateLimiter>();
        if (services.HasRedis())
        {
            services.AddSingleton<RedisRateLimiter>();
            services.AddSingleton<IRateLimiter>(sp => sp.GetRequiredService<RedisRateLimiter>());
        }
        else
        {
            services.AddSingleton<IRateLimiter>(sp => sp.GetRequiredService<InProcessRateLimiter>());
        }

        services.AddSingleton<LimitPolicySource>();
        services.AddSingleton<LimitGate>();
    }
}
