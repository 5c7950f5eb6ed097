using System.Text.Json;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Shared;

namespace BluesMinds.Gateway.Features.Audit;

/// <summary>
/// Adds an audit row to the same unit of work as the action it records, so the two are saved (or
/// lost) together. Callers pass only non-secret details.
/// </summary>
internal sealed class AuditTrail(TimeProvider time)
{
    public void Record(GatewayDbContext db, HttpContext http, string action, Guid? actor, string? targetType = null, string? targetId = null, object? details = null)
    {
        db.AuditLogs.Add(new AuditLog
        {
            ActorUserId = actor,
            Action = action,
            TargetType = targetType,
            TargetId = targetId,
            IpAddress = ClientInfo.IpAddress(http),
            UserAgent = ClientInfo.UserAgent(http),
            Details = details is null ? null : JsonSerializer.Serialize(details),
            CreatedAt = time.GetUtcNow().UtcDateTime,
        });
    }
}

/// <summary>The audit actions; stable strings that filters and alerts key on.</summary>
internal static class AuditActions
{
    public const string Signup = "user.signup";
    public const string LoginSucceeded = "user.login";
    public const string LoginFailed = "user.login_failed";
    public const string Logout = "user.logout";
    public const string PasswordChanged = "user.password_changed";
    public const string PasswordResetRequested = "user.password_reset_requested";
    public const string PasswordReset = "user.password_reset";
    public const string RoleChanged = "user.role_changed";
    public const string KeyCreated = "key.created";
    public const string KeyRotated = "key.rotated";
    public const string KeyRevoked = "key.revoked";
    public const string UserSuspended = "admin.user_suspended";
    public const string UserUnsuspended = "admin.user_unsuspended";
    public const string UserDeleted = "admin.user_deleted";
    public const string PlanChanged = "admin.user_plan_changed";
}
