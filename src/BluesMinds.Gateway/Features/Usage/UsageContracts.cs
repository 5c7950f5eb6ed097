using System.Globalization;
using System.Text.Json.Serialization;

namespace BluesMinds.Gateway.Features.Usage;

/// <summary>Sums over daily rollups; cost in exact micro-dollars and as a decimal USD string.</summary>
internal record UsageTotals(long Requests, long ErrorRequests, long PromptTokens, long CompletionTokens, long CachedTokens, long TotalTokens, long CostMicros)
{
    public string CostUsd => (CostMicros / 1_000_000m).ToString("0.000000", CultureInfo.InvariantCulture);
}

/// <summary>One group of <c>group_by</c>; only the grouping field is present.</summary>
internal sealed record UsageGroup(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateOnly? Day,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Model,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? KeyId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyName,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Guid? UserId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? UserEmail,
    long Requests, long ErrorRequests, long PromptTokens, long CompletionTokens, long CachedTokens, long TotalTokens, long CostMicros)
    : UsageTotals(Requests, ErrorRequests, PromptTokens, CompletionTokens, CachedTokens, TotalTokens, CostMicros);

internal sealed record UsageLimits(long RequestsPerMinute, long TokensPerMinute, long ConcurrentRequests, long MonthlyTokenQuota);

internal sealed record UsageQuota(long MonthlyTokenQuota, long UsedTokens, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd);

internal sealed record UsageReport(
    DateOnly From,
    DateOnly To,
    string GroupBy,
    UsageTotals Totals,
    IReadOnlyList<UsageGroup> Data,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageLimits? Limits,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UsageQuota? Quota);

/// <summary>A raw usage row as its owner sees it (the upstream server stays the operator's business).</summary>
internal sealed record UsageLogResponse(
    string RequestId, Guid? KeyId, string Endpoint, string? ModelRequested, string? ModelServed,
    int PromptTokens, int CompletionTokens, int CachedTokens, int TotalTokens, bool TokensEstimated, long CostMicros,
    int LatencyMs, int? TimeToFirstByteMs, bool Streamed, bool ClientDisconnected, int StatusCode, string? ErrorCode, DateTime CreatedAt);
