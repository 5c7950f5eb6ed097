using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Hosting.Redis;

/// <summary>Registers the shared Redis connection when <c>REDIS_URL</c> is set; everything else asks for it as optional.</summary>
internal static class RedisRegistration
{
    public static WebApplicationBuilder AddGatewayRedis(this WebApplicationBuilder builder)
    {
        var redis = builder.Configuration.BindOrDefault<RedisOptions>(RedisOptions.Section);
        if (redis?.IsConfigured == true)
        {
            builder.Services.AddSingleton<RedisConnection>();
        }

        return builder;
    }

    public static bool HasRedis(this IServiceCollection services) => services.Any(d => d.ServiceType == typeof(RedisConnection));
}
