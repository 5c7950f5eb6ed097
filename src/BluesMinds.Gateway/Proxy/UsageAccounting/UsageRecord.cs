namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Everything known about one gateway request once it is over: the seam between the hot path and
/// the usage layer. Never holds prompt or completion text.
/// </summary>
internal sealed class UsageRecord
{
    public required string RequestId { get; init; }

    public required string Endpoint { get; init; }

    public Guid? UserId { get; set; }

    public Guid? ApiKeyId { get; set; }

    public string? ModelRequested { get; set; }

    public string? ModelServed { get; set; }

    public Guid? ServerId { get; set; }

    public int PromptTokens { get; set; }

    public int CompletionTokens { get; set; }

    public int CachedTokens { get; set; }

    public int TotalTokens { get; set; }

    public bool TokensEstimated { get; set; }

    /// <summary>Micro-dollars from the price table at the time the request ended.</summary>
    public long CostMicros { get; set; }

    public int LatencyMs { get; set; }

    public int? TimeToFirstByteMs { get; set; }

    public bool Streamed { get; set; }

    public bool ClientDisconnected { get; set; }

    public int StatusCode { get; set; }

    public string? ErrorCode { get; set; }

    public DateTime CreatedAt { get; init; }
}
