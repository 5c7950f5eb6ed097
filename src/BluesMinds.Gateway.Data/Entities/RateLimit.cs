namespace BluesMinds.Gateway.Data.Entities;

/// <summary>
/// Limits for a plan, or an override for one user or one key. A null limit inherits from the
/// next wider scope (key → user → plan → settings defaults).
/// </summary>
public sealed class RateLimit
{
    public Guid Id { get; set; }

    public string Scope { get; set; } = RateLimitScopes.Plan;

    public int? PlanId { get; set; }

    public Guid? UserId { get; set; }

    public Guid? ApiKeyId { get; set; }

    public int? RequestsPerMinute { get; set; }

    public int? TokensPerMinute { get; set; }

    public int? ConcurrentRequests { get; set; }

    public long? MonthlyTokenQuota { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}

public static class RateLimitScopes
{
    public const string Plan = "plan";
    public const string User = "user";
    public const string Key = "key";
}
