namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A single-use, expiring password-reset token; only its SHA-256 is stored.</summary>
public sealed class PasswordResetToken
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public required byte[] TokenHash { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime ExpiresAt { get; set; }

    public DateTime? UsedAt { get; set; }
}
