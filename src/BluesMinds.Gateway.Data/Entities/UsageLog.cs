namespace BluesMinds.Gateway.Data.Entities;

/// <summary>One row per gateway request; never holds prompt or completion text.</summary>
public sealed class UsageLog
{
    public long Id { get; set; }

    /// <summary>Unique: replaying a journal twice must not duplicate a record.</summary>
    public required string RequestId { get; set; }

    public Guid? UserId { get; set; }

    public Guid? ApiKeyId { get; set; }

    public required string Endpoint { get; set; }

    public string? ModelRequested { get; set; }

    public string? ModelServed { get; set; }

    public Guid? ServerId { get; set; }

    public int PromptTokens { get; set; }

    public int CompletionTokens { get; set; }

    public int CachedTokens { get; set; }

    public int TotalTokens { get; set; }

    public bool TokensEstimated { get; set; }

    /// <summary>Micro-dollars (1e-6 USD), exact integer arithmetic.</summary>
    public long CostMicros { get; set; }

    public int LatencyMs { get; set; }

    public int? TimeToFirstByteMs { get; set; }

    public bool Streamed { get; set; }

    public bool ClientDisconnected { get; set; }

    public int StatusCode { get; set; }

    public string? ErrorCode { get; set; }

    public DateTime CreatedAt { get; set; }
}
