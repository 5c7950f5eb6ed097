namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A signed-in session; its id is the <c>sid</c> of the session token, so revoking the row revokes the token.</summary>
public sealed class UserSession
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime ExpiresAt { get; set; }

    public DateTime? RevokedAt { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }
}
