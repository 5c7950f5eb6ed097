using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>Section <c>Upstreams</c>: timeouts, failover, circuit breaking and health checks.</summary>
internal sealed class UpstreamOptions
{
    public const string Section = "Upstreams";

    public int ConnectTimeoutSeconds { get; set; } = 5;

    /// <summary>Time allowed for an upstream to send its response headers; then the next candidate is tried.</summary>
    public int ResponseTimeoutSeconds { get; set; } = 300;

    /// <summary>A stream with no new bytes for this long is ended with an error event.</summary>
    public int StreamIdleTimeoutSeconds { get; set; } = 60;

    /// <summary>Upstream attempts per request, failovers included.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Consecutive failures that take a server out.</summary>
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long a server stays out before one probe request is let through.</summary>
    public int CircuitBreakSeconds { get; set; } = 30;

    public int HealthCheckIntervalSeconds { get; set; } = 15;

    public int HealthCheckTimeoutSeconds { get; set; } = 5;

    /// <summary>How often every instance re-reads the server list (the backstop when Redis is not there to announce changes).</summary>
    public int RoutingRefreshSeconds { get; set; } = 5;

    /// <summary>Model aliases: the name clients send → the name upstreams know.</summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.Ordinal);
}

internal sealed class UpstreamOptionsValidator : IValidateOptions<UpstreamOptions>
{
    public ValidateOptionsResult Validate(string? name, UpstreamOptions o)
    {
        var problems = new List<string>();
        void Range(int value, int min, int max, string key)
        {
            if (value < min || value > max)
            {
                problems.Add($"Upstreams:{key} must be between {min} and {max}.");
            }
        }

        Range(o.ConnectTimeoutSeconds, 1, 300, nameof(o.ConnectTimeoutSeconds));
        Range(o.ResponseTimeoutSeconds, 1, 3600, nameof(o.ResponseTimeoutSeconds));
        Range(o.StreamIdleTimeoutSeconds, 1, 3600, nameof(o.StreamIdleTimeoutSeconds));
        Range(o.MaxAttempts, 1, 10, nameof(o.MaxAttempts));
        Range(o.CircuitFailureThreshold, 1, 1000, nameof(o.CircuitFailureThreshold));
        Range(o.CircuitBreakSeconds, 1, 3600, nameof(o.CircuitBreakSeconds));
        Range(o.HealthCheckIntervalSeconds, 1, 3600, nameof(o.HealthCheckIntervalSeconds));
        Range(o.HealthCheckTimeoutSeconds, 1, 300, nameof(o.HealthCheckTimeoutSeconds));
        Range(o.RoutingRefreshSeconds, 1, 3600, nameof(o.RoutingRefreshSeconds));
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
