using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Proxy.ModelRouting;

namespace BluesMinds.Gateway.Features.Upstreams;

internal sealed record CreateServerRequest(string? Name, string? BaseUrl, string? ApiKey, int? Weight, int? Priority, List<string>? SupportedModels, bool? Enabled);

/// <summary>A partial update: only the fields present change. <c>api_key: ""</c> removes the key.</summary>
internal sealed record UpdateServerRequest(string? Name, string? BaseUrl, string? ApiKey, int? Weight, int? Priority, List<string>? SupportedModels, bool? Enabled);

internal sealed record ServerHealthResponse(string Status, DateTime? LastCheckAt, int? LatencyMs, string? Error, string Circuit, int ConsecutiveFailures)
{
    public static ServerHealthResponse From(LitellmServer row, ServerHealth live) => new(
        live.ActiveCheckHealthy switch { true => ServerHealthStatuses.Healthy, false => ServerHealthStatuses.Unhealthy, null => row.HealthStatus },
        live.LastCheckAt?.UtcDateTime ?? row.LastHealthCheckAt,
        live.LastLatencyMs ?? row.LastLatencyMs,
        live.LastCheckAt is null ? row.LastError : live.LastError,
        live.Circuit switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" },
        live.ConsecutiveFailures);
}

/// <summary>An upstream as the admin API shows it: whether it has an API key, never the key.</summary>
internal sealed record ServerResponse(
    Guid Id,
    string Name,
    string BaseUrl,
    bool HasApiKey,
    int Weight,
    int Priority,
    IReadOnlyList<string> SupportedModels,
    bool Enabled,
    ServerHealthResponse Health,
    DateTime CreatedAt,
    DateTime UpdatedAt)
{
    public static ServerResponse From(LitellmServer row, ServerHealth live) => new(
        row.Id, row.Name, row.BaseUrl, row.ApiKeyEncrypted is not null, row.Weight, row.Priority, row.SupportedModels, row.Enabled,
        ServerHealthResponse.From(row, live), row.CreatedAt, row.UpdatedAt);
}
