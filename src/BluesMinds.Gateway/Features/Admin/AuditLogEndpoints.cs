using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Shared;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Admin;

internal sealed record AuditLogResponse(
    long Id, Guid? ActorUserId, string Action, string? TargetType, string? TargetId, string? IpAddress, string? UserAgent, string? Details, DateTime CreatedAt);

/// <summary><c>GET /api/admin/audit-logs</c>: newest first, filtered by user (as actor or target), action and time.</summary>
internal static class AuditLogEndpoints
{
    public static IEndpointRouteBuilder MapAuditLogs(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/admin/audit-logs").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .MapGet("/", List);
        return app;
    }

    private static async Task<IResult> List(
        int? page, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "page_size")] int? pageSize, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "user_id")] Guid? userId, string? action, DateTime? from, DateTime? to, GatewayDbContext db, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        Paging.TryCreate(page, pageSize, validation, out var paging);
        if (from is not null && to is not null && from > to)
        {
            validation.Add("from", "from must not be after to.");
        }

        var actionFilter = TextInput.Clean(action, "action", 64, out var actionProblem, required: false);
        validation.Add("action", actionProblem);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var query = db.AuditLogs.AsNoTracking();
        if (userId is { } user)
        {
            var target = user.ToString();
            query = query.Where(a => a.ActorUserId == user || (a.TargetType == "user" && a.TargetId == target));
        }

        if (actionFilter is not null)
        {
            query = query.Where(a => a.Action == actionFilter);
        }

        if (from is { } start)
        {
            var utc = start.ToUniversalTime();
            query = query.Where(a => a.CreatedAt >= utc);
        }

        if (to is { } end)
        {
            var utc = end.ToUniversalTime();
            query = query.Where(a => a.CreatedAt < utc);
        }

        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(a => a.Id)
            .Skip(paging.Skip).Take(paging.PageSize)
            .Select(a => new AuditLogResponse(a.Id, a.ActorUserId, a.Action, a.TargetType, a.TargetId, a.IpAddress, a.UserAgent, a.Details, a.CreatedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedList<AuditLogResponse>(rows, paging.Page, paging.PageSize, total));
    }
}
