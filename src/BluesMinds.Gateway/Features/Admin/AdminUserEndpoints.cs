using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Admin;

internal sealed record UpdateUserRequest(string? Status, string? Plan);

internal sealed record AdminUserResponse(
    Guid Id, string Email, string? FullName, string Role, string Status, string Plan, DateTime CreatedAt, DateTime? LastLoginAt, DateTime? SuspendedAt);

/// <summary><c>/api/admin/users</c>: list and search users, suspend or unsuspend them, change their plan, delete them.</summary>
internal static class AdminUserEndpoints
{
    public static IEndpointRouteBuilder MapAdminUsers(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/admin/users").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .AddEndpointFilter<CsrfFilter>();
        users.MapGet("/", List);
        users.MapPatch("/{id:guid}", Update);
        users.MapDelete("/{id:guid}", Delete);
        return app;
    }

    private static async Task<IResult> List(
        int? page, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "page_size")] int? pageSize, string? search, string? status, GatewayDbContext db, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        Paging.TryCreate(page, pageSize, validation, out var paging);
        if (status is not null and not (UserStatuses.Active or UserStatuses.Suspended or UserStatuses.Deleted))
        {
            validation.Add("status", "status must be active, suspended or deleted.");
        }

        var term = TextInput.Clean(search, "search", 200, out var searchProblem, required: false)?.ToLowerInvariant();
        validation.Add("search", searchProblem);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var query = db.Users.AsNoTracking();
        if (term is not null)
        {
#pragma warning disable CA1862, CA1304, CA1311 // EF Core translates ToLower() to SQL on both providers; the StringComparison overload does not translate.
            query = query.Where(u => u.Email.Contains(term) || (u.FullName != null && u.FullName.ToLower().Contains(term)));
#pragma warning restore CA1862, CA1304, CA1311
        }

        if (status is not null)
        {
            query = query.Where(u => u.Status == status);
        }

        var total = await query.CountAsync(cancellationToken);
        var rows = await query
            .OrderByDescending(u => u.CreatedAt).ThenBy(u => u.Id)
            .Skip(paging.Skip).Take(paging.PageSize)
            .Select(u => new AdminUserResponse(u.Id, u.Email, u.FullName, u.Role, u.Status, u.Plan!.Code, u.CreatedAt, u.LastLoginAt, u.SuspendedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedList<AdminUserResponse>(rows, paging.Page, paging.PageSize, total));
    }

    private static async Task<IResult> Update(
        Guid id, UpdateUserRequest? request, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation,
        AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var admin = CurrentSession.From(http).UserId;
        var validation = new Validation();
        if (request?.Status is null && request?.Plan is null)
        {
            validation.Add("status", "Give status (active or suspended) and/or plan (a plan code).");
        }

        if (request?.Status is not null and not (UserStatuses.Active or UserStatuses.Suspended))
        {
            validation.Add("status", "status must be active or suspended.");
        }

        if (request?.Status == UserStatuses.Suspended && id == admin)
        {
            validation.Add("status", "Administrators cannot suspend themselves.");
        }

        BillingPlan? plan = null;
        if (request?.Plan is not null)
        {
            plan = await db.BillingPlans.SingleOrDefaultAsync(p => p.Code == request.Plan && p.IsActive, cancellationToken);
            if (plan is null)
            {
                validation.Add("plan", "plan must be the code of an active plan (free, starter, pro, enterprise, …).");
            }
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == id && u.Status != UserStatuses.Deleted, cancellationToken);
        if (user is null)
        {
            return Problems.NotFound("The user");
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (request!.Status is { } newStatus && newStatus != user.Status)
        {
            user.Status = newStatus;
            user.SuspendedAt = newStatus == UserStatuses.Suspended ? now : null;
            audit.Record(db, http, newStatus == UserStatuses.Suspended ? AuditActions.UserSuspended : AuditActions.UserUnsuspended, admin, "user", user.Id.ToString());
            if (newStatus == UserStatuses.Suspended)
            {
                await db.UserSessions.Where(s => s.UserId == user.Id && s.RevokedAt == null)
                    .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
            }
        }

        if (plan is not null && plan.Id != user.PlanId)
        {
            audit.Record(db, http, AuditActions.PlanChanged, admin, "user", user.Id.ToString(), new { from = user.PlanId, to = plan.Code });
            user.PlanId = plan.Id;
        }

        user.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        await invalidation.UserChangedAsync(user.Id);
        var planCode = plan?.Code ?? await PlanCodes.OfAsync(db, user.PlanId, cancellationToken);
        return TypedResults.Ok(new AdminUserResponse(user.Id, user.Email, user.FullName, user.Role, user.Status, planCode, user.CreatedAt, user.LastLoginAt, user.SuspendedAt));
    }

    /// <summary>Soft delete: the row stays for the audit trail and usage history; sign-in and keys stop at once.</summary>
    private static async Task<IResult> Delete(
        Guid id, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var admin = CurrentSession.From(http).UserId;
        if (id == admin)
        {
            return Problems.Conflict("Administrators cannot delete themselves.");
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == id && u.Status != UserStatuses.Deleted, cancellationToken);
        if (user is null)
        {
            return Problems.NotFound("The user");
        }

        var now = time.GetUtcNow().UtcDateTime;
        user.Status = UserStatuses.Deleted;
        user.DeletedAt = now;
        user.UpdatedAt = now;
        await db.UserSessions.Where(s => s.UserId == user.Id && s.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.RevokedAt, now), cancellationToken);
        await db.ApiKeys.Where(k => k.UserId == user.Id && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, now), cancellationToken);
        audit.Record(db, http, AuditActions.UserDeleted, admin, "user", user.Id.ToString());
        await db.SaveChangesAsync(cancellationToken);
        await invalidation.UserChangedAsync(user.Id);
        return TypedResults.NoContent();
    }
}
