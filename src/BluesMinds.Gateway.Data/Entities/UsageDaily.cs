namespace BluesMinds.Gateway.Data.Entities;

/// <summary>
/// The daily rollup of <see cref="UsageLog"/> per user, key and model, kept by the usage writer in
/// the same transaction as the raw rows. Usage pages and quota seeds read only this table, and it
/// outlives raw-row retention.
/// </summary>
public sealed class UsageDaily
{
    public long Id { get; set; }

    public Guid UserId { get; set; }

    public Guid ApiKeyId { get; set; }

    /// <summary>The model the client asked for; empty when the request never named one.</summary>
    public required string Model { get; set; }

    /// <summary>The UTC day.</summary>
    public DateOnly Day { get; set; }

    public long Requests { get; set; }

    /// <summary>Requests answered with a status of 400 or more (refusals and upstream errors included).</summary>
    public long ErrorRequests { get; set; }

    public long PromptTokens { get; set; }

    public long CompletionTokens { get; set; }

    public long CachedTokens { get; set; }

    public long TotalTokens { get; set; }

    public long CostMicros { get; set; }
}
