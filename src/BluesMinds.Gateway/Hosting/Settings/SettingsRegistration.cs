using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Binds every settings section and validates it when the host starts.</summary>
internal static class SettingsRegistration
{
    public static IServiceCollection AddGatewaySettings(this IServiceCollection services, IConfiguration configuration)
    {
        Add<AppOptions, AppOptionsValidator>(services, configuration, AppOptions.Section);
        Add<DatabaseOptions, DatabaseOptionsValidator>(services, configuration, DatabaseOptions.Section);
        Add<RedisOptions, RedisOptionsValidator>(services, configuration, RedisOptions.Section);
        Add<SecurityOptions, SecurityOptionsValidator>(services, configuration, SecurityOptions.Section);
        Add<StripeOptions, StripeOptionsValidator>(services, configuration, StripeOptions.Section);
        Add<ObservabilityOptions, ObservabilityOptionsValidator>(services, configuration, ObservabilityOptions.Section);
        Add<RateLimitOptions, RateLimitOptionsValidator>(services, configuration, RateLimitOptions.Section);
        Add<UsageOptions, UsageOptionsValidator>(services, configuration, UsageOptions.Section);
        services.AddOptions<FeatureOptions>().Bind(configuration.GetSection(FeatureOptions.Section)).ValidateOnStart();
        return services;
    }

    private static void Add<TOptions, TValidator>(IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
    }
}
