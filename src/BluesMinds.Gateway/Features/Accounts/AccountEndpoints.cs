using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Email;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary><c>/api/auth/*</c>: sign-up, login, logout, the current user, password change and reset.</summary>
internal static class AccountEndpoints
{
    private const string InvalidCredentials = "Invalid email or password.";
    private static readonly TimeSpan ResetTokenLifetime = TimeSpan.FromHours(1);

    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder app)
    {
        var open = app.MapGroup("/api/auth").WithTags("Accounts");
        open.MapPost("/signup", Signup);
        open.MapPost("/login", Login);
        open.MapPost("/password-reset", RequestPasswordReset);
        open.MapPost("/password-reset/confirm", ConfirmPasswordReset);

        var signedIn = app.MapGroup("/api/auth").WithTags("Accounts")
            .RequireAuthorization(SessionAuthentication.UserPolicy)
            .AddEndpointFilter<CsrfFilter>();
        signedIn.MapPost("/logout", Logout);
        signedIn.MapGet("/me", Me);
        signedIn.MapPost("/password", ChangePassword);
        return app;
    }

    private static async Task<IResult> Signup(
        SignupRequest? request, HttpContext http, GatewayDbContext db, PasswordHasher hasher, AdminEmails admins,
        SessionIssuer sessions, AuditTrail audit, IOptions<FeatureOptions> features, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!features.Value.Signup)
        {
            return Problems.Forbidden("Sign-up is disabled on this deployment; ask an administrator for an account.");
        }

        var validation = new Validation();
        var email = EmailAddresses.Normalize(request?.Email, out var emailProblem);
        validation.Add("email", emailProblem);
        validation.Add("password", PasswordPolicy.Problem(request?.Password, email));
        var fullName = TextInput.Clean(request?.FullName, "full_name", 200, out var nameProblem, required: false);
        validation.Add("full_name", nameProblem);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await db.Users.AnyAsync(u => u.Email == email, cancellationToken))
        {
            return Problems.Conflict("An account with this email already exists.");
        }

        var now = time.GetUtcNow().UtcDateTime;
        var user = new User
        {
            Id = Guid.CreateVersion7(),
            Email = email!,
            PasswordHash = hasher.Hash(request!.Password!),
            FullName = fullName,
            Role = admins.RoleFor(email!),
            PlanId = BillingPlanIds.Free,
            CreatedAt = now,
            UpdatedAt = now,
            LastLoginAt = now,
        };
        db.Users.Add(user);
        var session = sessions.Open(db, user, http);
        audit.Record(db, http, AuditActions.Signup, user.Id, "user", user.Id.ToString(), new { role = user.Role });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict("An account with this email already exists.");
        }

        var response = sessions.Respond(http, user, await PlanCodes.OfAsync(db, user.PlanId, cancellationToken), session);
        return TypedResults.Created("/api/auth/me", response);
    }

    private static async Task<IResult> Login(
        LoginRequest? request, HttpContext http, GatewayDbContext db, PasswordHasher hasher, AdminEmails admins,
        SessionIssuer sessions, AuditTrail audit, LoginThrottle throttle, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (string.IsNullOrWhiteSpace(request?.Email))
        {
            validation.Add("email", "email is required.");
        }

        if (string.IsNullOrEmpty(request?.Password))
        {
            validation.Add("password", "password is required.");
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var email = EmailAddresses.Normalize(request!.Email, out _);
        var ip = ClientInfo.IpAddress(http);
        if (throttle.RetryAfter(email, ip) is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(
                title: "Too many failed logins",
                detail: $"Too many failed login attempts; try again in {Math.Ceiling(wait.TotalMinutes)} minute(s).",
                statusCode: StatusCodes.Status429TooManyRequests);
        }

        var user = email is null ? null : await db.Users.SingleOrDefaultAsync(u => u.Email == email && u.Status != UserStatuses.Deleted, cancellationToken);
        if (!hasher.Verify(request.Password!, user?.PasswordHash))
        {
            var delay = throttle.RecordFailure(email, ip);
            audit.Record(db, http, AuditActions.LoginFailed, null, user is null ? null : "user", user?.Id.ToString());
            await db.SaveChangesAsync(cancellationToken);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, time, cancellationToken);
            }

            return Problems.Unauthorized(InvalidCredentials);
        }

        if (user!.Status == UserStatuses.Suspended)
        {
            audit.Record(db, http, AuditActions.LoginFailed, user.Id, "user", user.Id.ToString(), new { reason = "suspended" });
            await db.SaveChangesAsync(cancellationToken);
            return Problems.Forbidden("This account is suspended; contact the operator of this deployment.");
        }

        throttle.RecordSuccess(user.Email);
        var role = admins.RoleFor(user.Email);
        if (role != user.Role)
        {
            audit.Record(db, http, AuditActions.RoleChanged, null, "user", user.Id.ToString(), new { from = user.Role, to = role, by = "ADMIN_EMAILS" });
            user.Role = role;
        }

        user.LastLoginAt = time.GetUtcNow().UtcDateTime;
        user.UpdatedAt = user.LastLoginAt.Value;
        var session = sessions.Open(db, user, http);
        audit.Record(db, http, AuditActions.LoginSucceeded, user.Id, "user", user.Id.ToString());
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(sessions.Respond(http, user, await PlanCodes.OfAsync(db, user.PlanId, cancellationToken), session));
    }

    private static async Task<IResult> Logout(HttpContext http, GatewayDbContext db, SessionTokens tokens, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var current = CurrentSession.From(http);
        var now = time.GetUtcNow().UtcDateTime;
        await db.UserSessions.Where(s => s.Id == current.SessionId && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        audit.Record(db, http, AuditActions.Logout, current.UserId, "user", current.UserId.ToString());
        await db.SaveChangesAsync(cancellationToken);
        tokens.ClearCookies(http.Response);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> Me(HttpContext http, GatewayDbContext db, CancellationToken cancellationToken)
    {
        var current = CurrentSession.From(http);
        var user = await db.Users.AsNoTracking().SingleAsync(u => u.Id == current.UserId, cancellationToken);
        return TypedResults.Ok(UserResponse.From(user, await PlanCodes.OfAsync(db, user.PlanId, cancellationToken)));
    }

    private static async Task<IResult> ChangePassword(
        PasswordChangeRequest? request, HttpContext http, GatewayDbContext db, PasswordHasher hasher, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var current = CurrentSession.From(http);
        var user = await db.Users.SingleAsync(u => u.Id == current.UserId, cancellationToken);
        var validation = new Validation();
        if (string.IsNullOrEmpty(request?.CurrentPassword))
        {
            validation.Add("current_password", "current_password is required.");
        }
        else if (!hasher.Verify(request.CurrentPassword, user.PasswordHash))
        {
            validation.Add("current_password", "current_password is not the account's password.");
        }

        validation.Add("new_password", PasswordPolicy.Problem(request?.NewPassword, user.Email, "new_password"));
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = time.GetUtcNow().UtcDateTime;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        user.PasswordHash = hasher.Hash(request!.NewPassword!);
        user.UpdatedAt = now;
        // Every other session ends; the one that changed the password stays.
        await db.UserSessions.Where(s => s.UserId == user.Id && s.Id != current.SessionId && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        audit.Record(db, http, AuditActions.PasswordChanged, user.Id, "user", user.Id.ToString());
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<IResult> RequestPasswordReset(
        PasswordResetRequest? request, HttpContext http, GatewayDbContext db, IEmailSender email, AuditTrail audit,
        IOptions<AppOptions> app, TimeProvider time, CancellationToken cancellationToken)
    {
        var address = EmailAddresses.Normalize(request?.Email, out var problem);
        if (address is null)
        {
            var validation = new Validation();
            validation.Add("email", problem);
            return validation.ToResult();
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == address && u.Status == UserStatuses.Active, cancellationToken);
        if (user is not null)
        {
            var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var now = time.GetUtcNow().UtcDateTime;
            db.PasswordResetTokens.Add(new PasswordResetToken
            {
                Id = Guid.CreateVersion7(),
                UserId = user.Id,
                TokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(token)),
                CreatedAt = now,
                ExpiresAt = now + ResetTokenLifetime,
            });
            audit.Record(db, http, AuditActions.PasswordResetRequested, null, "user", user.Id.ToString());
            await db.SaveChangesAsync(cancellationToken);
            var link = $"{app.Value.Url.TrimEnd('/')}/reset-password?token={token}";
            await email.SendAsync(user.Email, "Reset your BluesMinds password",
                $"Someone asked to reset the password of this account.\n\nTo choose a new password, open:\n{link}\n\n" +
                $"Or send this token to POST /api/auth/password-reset/confirm:\n{token}\n\n" +
                $"The link works once and expires in {ResetTokenLifetime.TotalMinutes} minutes. If you did not ask, ignore this email.",
                cancellationToken);
        }

        // The same answer whether or not the account exists, so the endpoint cannot be used to find accounts.
        return TypedResults.Accepted((string?)null, new { message = "If an account exists for this email, a reset link has been sent." });
    }

    private static async Task<IResult> ConfirmPasswordReset(
        PasswordResetConfirmRequest? request, HttpContext http, GatewayDbContext db, PasswordHasher hasher, AuditTrail audit,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (string.IsNullOrWhiteSpace(request?.Token) || request.Token.Length > 100)
        {
            validation.Add("token", "token is required: the one sent by email.");
            return validation.ToResult();
        }

        var now = time.GetUtcNow().UtcDateTime;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(request.Token.Trim()));
        var token = await db.PasswordResetTokens.SingleOrDefaultAsync(t => t.TokenHash == hash && t.UsedAt == null && t.ExpiresAt > now, cancellationToken);
        var user = token is null ? null : await db.Users.SingleOrDefaultAsync(u => u.Id == token.UserId && u.Status == UserStatuses.Active, cancellationToken);
        if (user is null)
        {
            validation.Add("token", "The reset token is invalid, already used or expired; ask for a new one.");
            return validation.ToResult();
        }

        validation.Add("password", PasswordPolicy.Problem(request.Password, user.Email));
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Single use, even against two concurrent confirmations: only one can claim the token.
        var claimed = await db.PasswordResetTokens.Where(t => t.Id == token!.Id && t.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
        if (claimed == 0)
        {
            validation.Add("token", "The reset token is invalid, already used or expired; ask for a new one.");
            return validation.ToResult();
        }

        user.PasswordHash = hasher.Hash(request.Password!);
        user.UpdatedAt = now;
        await db.PasswordResetTokens.Where(t => t.UserId == user.Id && t.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.UsedAt, now), cancellationToken);
        await db.UserSessions.Where(s => s.UserId == user.Id && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        audit.Record(db, http, AuditActions.PasswordReset, user.Id, "user", user.Id.ToString());
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }
}
