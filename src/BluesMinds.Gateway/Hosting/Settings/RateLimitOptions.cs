using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>RateLimits</c>: defaults used where neither the plan nor an override sets a limit.</summary>
internal sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    public bool Enabled { get; set; } = true;

    public int RequestsPerMinute { get; set; } = 60;

    public int TokensPerMinute { get; set; } = 100_000;

    public int ConcurrentRequests { get; set; } = 10;

    /// <summary>Completion tokens reserved for a request that does not set <c>max_tokens</c>.</summary>
    public int DefaultMaxTokens { get; set; } = 4_096;

    /// <summary><c>closed</c> (default): refuse while Redis is unreachable; <c>open</c>: fall back to a per-instance limiter.</summary>
    public string RedisFailureMode { get; set; } = "closed";
}

internal sealed class RateLimitOptionsValidator(IHostEnvironment environment) : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var problems = new List<string>();
        if (options.RequestsPerMinute < 1 || options.TokensPerMinute < 1 || options.ConcurrentRequests < 1 || options.DefaultMaxTokens < 1)
        {
            problems.Add("RATE_LIMIT_REQUESTS_PER_MINUTE, RATE_LIMIT_TOKENS_PER_MINUTE, RATE_LIMIT_CONCURRENT_REQUESTS and RATE_LIMIT_DEFAULT_MAX_TOKENS must be positive.");
        }

        if (options.RedisFailureMode is not ("closed" or "open"))
        {
            problems.Add("RATE_LIMIT_REDIS_FAILURE_MODE must be 'closed' or 'open'.");
        }

        if (environment.IsProduction() && !options.Enabled)
        {
            problems.Add("RATE_LIMIT_ENABLED=false is refused in Production: every plan's limits would be void.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
