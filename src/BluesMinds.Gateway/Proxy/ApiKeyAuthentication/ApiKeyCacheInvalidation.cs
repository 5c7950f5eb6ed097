using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Proxy.Limits;

namespace BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

/// <summary>
/// Tells every instance that a key or a user changed: at once on this instance, and through a
/// Redis channel to the others when <c>REDIS_URL</c> is set. The short cache lifetime is the
/// backstop if a message is lost.
/// </summary>
internal sealed partial class ApiKeyCacheInvalidation(ApiKeyLookup lookup, LimitPolicySource policies, ILogger<ApiKeyCacheInvalidation> logger, RedisConnection? redis = null)
{
    public const string Channel = "bluesminds:api-keys:invalidate";

    public Task KeyChangedAsync(byte[] keyHash)
    {
        lookup.Invalidate(keyHash);
        return PublishAsync("k:" + Convert.ToHexString(keyHash));
    }

    public Task UserChangedAsync(Guid userId)
    {
        lookup.InvalidateUser(userId);
        policies.InvalidateUser(userId);
        return PublishAsync("u:" + userId.ToString("N"));
    }

    /// <summary>A plan's limits changed: every cached limit policy is dropped, here and on the other instances.</summary>
    public Task AllLimitsChangedAsync()
    {
        policies.InvalidateAll();
        return PublishAsync("limits:all");
    }

    /// <summary>Applies a message from another instance.</summary>
    public void Apply(string message)
    {
        if (message.StartsWith("k:", StringComparison.Ordinal) && message.Length == 2 + 64)
        {
            lookup.Invalidate(Convert.FromHexString(message.AsSpan(2)));
        }
        else if (message == "limits:all")
        {
            policies.InvalidateAll();
        }
        else if (message.StartsWith("u:", StringComparison.Ordinal) && Guid.TryParseExact(message.AsSpan(2), "N", out var userId))
        {
            lookup.InvalidateUser(userId);
            policies.InvalidateUser(userId);
        }
    }

    private async Task PublishAsync(string message)
    {
        if (redis is not null && !await redis.TryPublishAsync(Channel, message))
        {
            LogPublishFailed(logger);
        }
    }

    [LoggerMessage(EventId = 2110, Level = LogLevel.Warning, Message = "Could not publish an API key invalidation; other instances will catch up when their cache entry expires")]
    private static partial void LogPublishFailed(ILogger logger);
}

/// <summary>Listens for invalidations from other instances (only registered when Redis is configured).</summary>
internal sealed partial class ApiKeyInvalidationSubscriber(RedisConnection redis, ApiKeyCacheInvalidation invalidation, ILogger<ApiKeyInvalidationSubscriber> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failure = await redis.TrySubscribeAsync(
            ApiKeyCacheInvalidation.Channel,
            message =>
            {
                invalidation.Apply(message);
                return Task.CompletedTask;
            },
            stoppingToken);
        if (failure is not null)
        {
            LogSubscribeFailed(logger, failure);
        }
    }

    [LoggerMessage(EventId = 2111, Level = LogLevel.Error, Message = "Could not subscribe to API key invalidations; changes made on other instances apply only when cache entries expire")]
    private static partial void LogSubscribeFailed(ILogger logger, Exception exception);
}

/// <summary>Registers the key-resolution pieces of the hot path.</summary>
internal static class ApiKeyAuthenticationRegistration
{
    public static WebApplicationBuilder AddApiKeyResolution(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ApiKeyOptions>().Bind(builder.Configuration.GetSection(ApiKeyOptions.Section)).ValidateOnStart()
            .Validate(o => o.CacheSeconds is >= 0 and <= 3600 && o.NegativeCacheSeconds is >= 0 and <= 3600 && o.MaxCachedKeys > 0 && o.LastUsedFlushSeconds is >= 1 and <= 3600 && o.MaxKeysPerUser > 0,
                "ApiKeys settings are out of range (cache seconds 0–3600, flush seconds 1–3600, positive limits).");
        services.AddSingleton<ApiKeySecrets>();
        services.AddSingleton<ApiKeyLastUsed>();
        services.AddSingleton<ApiKeyLookup>();
        services.AddSingleton(sp => new ApiKeyCacheInvalidation(
            sp.GetRequiredService<ApiKeyLookup>(),
            sp.GetRequiredService<LimitPolicySource>(),
            sp.GetRequiredService<ILogger<ApiKeyCacheInvalidation>>(),
            sp.GetService<RedisConnection>()));
        services.AddSingleton<ApiKeyLastUsedFlushJob>();
        services.AddHostedService(sp => sp.GetRequiredService<ApiKeyLastUsedFlushJob>());
        if (services.HasRedis())
        {
            services.AddHostedService<ApiKeyInvalidationSubscriber>();
        }

        return builder;
    }
}
