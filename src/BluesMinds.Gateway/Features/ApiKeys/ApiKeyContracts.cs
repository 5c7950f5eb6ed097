using BluesMinds.Gateway.Data.Entities;

namespace BluesMinds.Gateway.Features.ApiKeys;

internal sealed record CreateApiKeyRequest(string? Name, DateTime? ExpiresAt, List<string>? AllowedModels);

/// <summary>A key as listed: never the secret, only enough to recognise it.</summary>
internal sealed record ApiKeyResponse(
    Guid Id,
    string Name,
    string Prefix,
    string LastFour,
    IReadOnlyList<string> AllowedModels,
    DateTime CreatedAt,
    DateTime? LastUsedAt,
    DateTime? ExpiresAt,
    string Status)
{
    public static ApiKeyResponse From(ApiKey key, DateTime now) => new(
        key.Id, key.Name, key.Prefix, key.LastFour, key.AllowedModels, key.CreatedAt, key.LastUsedAt, key.ExpiresAt,
        key.ExpiresAt <= now ? "expired" : "active");
}

/// <summary>The answer to create and rotate: the only time the full key is ever shown.</summary>
internal sealed record ApiKeySecretResponse(
    Guid Id,
    string Name,
    string Key,
    string Prefix,
    string LastFour,
    IReadOnlyList<string> AllowedModels,
    DateTime CreatedAt,
    DateTime? ExpiresAt);
