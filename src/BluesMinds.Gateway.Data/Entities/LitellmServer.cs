namespace BluesMinds.Gateway.Data.Entities;

/// <summary>An upstream OpenAI-compatible server (LiteLLM proxy or other) the gateway forwards to.</summary>
public sealed class LitellmServer
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public required string BaseUrl { get; set; }

    /// <summary>The upstream's API key, encrypted at rest; never returned by the API.</summary>
    public byte[]? ApiKeyEncrypted { get; set; }

    public int Weight { get; set; } = 100;

    /// <summary>Lower numbers are tried first.</summary>
    public int Priority { get; set; } = 1;

    public List<string> SupportedModels { get; set; } = [];

    public bool Enabled { get; set; } = true;

    public string HealthStatus { get; set; } = ServerHealthStatuses.Unknown;

    public DateTime? LastHealthCheckAt { get; set; }

    public int? LastLatencyMs { get; set; }

    public string? LastError { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}

public static class ServerHealthStatuses
{
    public const string Unknown = "unknown";
    public const string Healthy = "healthy";
    public const string Unhealthy = "unhealthy";
}
