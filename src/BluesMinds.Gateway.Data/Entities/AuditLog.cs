namespace BluesMinds.Gateway.Data.Entities;

/// <summary>Who did what to whom, from where. Never holds a secret.</summary>
public sealed class AuditLog
{
    public long Id { get; set; }

    public Guid? ActorUserId { get; set; }

    public required string Action { get; set; }

    public string? TargetType { get; set; }

    public string? TargetId { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    /// <summary>Small JSON object with non-secret details of the action.</summary>
    public string? Details { get; set; }

    public DateTime CreatedAt { get; set; }
}
