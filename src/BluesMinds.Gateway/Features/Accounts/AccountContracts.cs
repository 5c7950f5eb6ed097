using BluesMinds.Gateway.Data.Entities;

namespace BluesMinds.Gateway.Features.Accounts;

internal sealed record SignupRequest(string? Email, string? Password, string? FullName);

internal sealed record LoginRequest(string? Email, string? Password);

internal sealed record PasswordChangeRequest(string? CurrentPassword, string? NewPassword);

internal sealed record PasswordResetRequest(string? Email);

internal sealed record PasswordResetConfirmRequest(string? Token, string? Password);

/// <summary>A user as the API shows it: never the password hash.</summary>
internal sealed record UserResponse(
    Guid Id,
    string Email,
    string? FullName,
    string Role,
    string Status,
    string Plan,
    DateTime CreatedAt,
    DateTime? LastLoginAt)
{
    public static UserResponse From(User user, string planCode) =>
        new(user.Id, user.Email, user.FullName, user.Role, user.Status, planCode, user.CreatedAt, user.LastLoginAt);
}

/// <summary>The answer to signup and login: the user, the session token (also set as a cookie) and its CSRF token.</summary>
internal sealed record AuthResponse(UserResponse User, string Token, DateTime ExpiresAt, string CsrfToken);
