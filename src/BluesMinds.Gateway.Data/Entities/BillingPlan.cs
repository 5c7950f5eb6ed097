namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A plan customers subscribe to; its limits are data so billing can drive them.</summary>
public sealed class BillingPlan
{
    public int Id { get; set; }

    /// <summary>Stable machine name: <c>free</c>, <c>starter</c>, <c>pro</c>, <c>enterprise</c>.</summary>
    public required string Code { get; set; }

    public required string Name { get; set; }

    /// <summary>Monthly price in minor units (cents).</summary>
    public long PriceMonthlyCents { get; set; }

    public string Currency { get; set; } = "usd";

    public int RequestsPerMinute { get; set; }

    public int TokensPerMinute { get; set; }

    public int ConcurrentRequests { get; set; }

    public long MonthlyTokenQuota { get; set; }

    public bool IsActive { get; set; } = true;

    public int SortOrder { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}

public static class BillingPlanIds
{
    public const int Free = 1;
    public const int Starter = 2;
    public const int Pro = 3;
    public const int Enterprise = 4;
}
