using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Redis</c>: when set, limits and caches are shared by every replica.</summary>
internal sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary><c>REDIS_URL</c>: <c>redis://[:password@]host:port[/db]</c>, <c>rediss://</c> for TLS, or a StackExchange.Redis configuration string.</summary>
    public string? Url { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Url);
}

internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        if (!options.IsConfigured)
        {
            return ValidateOptionsResult.Success;
        }

        return RedisConnectionString.Problem(options.Url!) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
