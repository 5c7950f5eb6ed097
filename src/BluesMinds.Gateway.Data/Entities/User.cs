namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A customer (or admin) account of the deployment.</summary>
public sealed class User
{
    public Guid Id { get; set; }

    /// <summary>Trimmed, lower-cased; unique.</summary>
    public required string Email { get; set; }

    public required string PasswordHash { get; set; }

    public string? FullName { get; set; }

    public string Role { get; set; } = UserRoles.User;

    public string Status { get; set; } = UserStatuses.Active;

    public int PlanId { get; set; } = BillingPlanIds.Free;

    public BillingPlan? Plan { get; set; }

    /// <summary>Bumped to revoke every session of the user at once (logout everywhere, password change).</summary>
    public int SessionVersion { get; set; }

    public string? StripeCustomerId { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }

    public DateTime? LastLoginAt { get; set; }

    public DateTime? SuspendedAt { get; set; }

    public DateTime? DeletedAt { get; set; }
}

public static class UserRoles
{
    public const string User = "user";
    public const string Admin = "admin";
}

public static class UserStatuses
{
    public const string Active = "active";
    public const string Suspended = "suspended";
    public const string Deleted = "deleted";
}
