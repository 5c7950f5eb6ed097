namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A <c>bm_</c> key; only its HMAC-SHA256 under <c>API_KEY_SECRET</c> is stored.</summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public User? User { get; set; }

    public required string Name { get; set; }

    /// <summary>HMAC-SHA256 of the full key; 32 bytes, unique, the lookup key of the hot path.</summary>
    public required byte[] KeyHash { get; set; }

    /// <summary>Short display prefix such as <c>bm_Ab12</c>: not enough to use the key.</summary>
    public required string Prefix { get; set; }

    public required string LastFour { get; set; }

    /// <summary>Empty means every model the plan allows.</summary>
    public List<string> AllowedModels { get; set; } = [];

    public DateTime? ExpiresAt { get; set; }

    public DateTime? RevokedAt { get; set; }

    public DateTime? LastUsedAt { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}
