using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Features.Usage;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Admin;

/// <summary><c>GET /api/admin/usage</c>: usage across every account, from the daily rollups.</summary>
internal static class AdminUsageEndpoints
{
    private static readonly string[] Groupings = ["day", "model", "user", "key"];

    public static IEndpointRouteBuilder MapAdminUsage(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/admin/usage").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .MapGet("/", Summary);
        return app;
    }

    private static async Task<IResult> Summary(
        DateOnly? from, DateOnly? to, [FromQuery(Name = "group_by")] string? groupBy, [FromQuery(Name = "user_id")] Guid? userId, string? model,
        GatewayDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var (start, end) = UsageQueries.Range(from, to, groupBy, Groupings, time.GetUtcNow(), validation);
        var modelFilter = TextInput.Clean(model, "model", 200, out var modelProblem, required: false);
        validation.Add("model", modelProblem);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var grouping = groupBy ?? "day";
        var rows = db.UsageDaily.AsNoTracking().Where(u => u.Day >= start && u.Day <= end);
        if (userId is { } user)
        {
            rows = rows.Where(u => u.UserId == user);
        }

        if (modelFilter is not null)
        {
            rows = rows.Where(u => u.Model == modelFilter);
        }

        var (totals, groups) = await UsageQueries.AggregateAsync(rows, grouping, cancellationToken);
        if (grouping == "user")
        {
            var ids = groups.Select(g => g.UserId!.Value).ToList();
            var emails = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email, cancellationToken);
            groups = groups.Select(g => g with { UserEmail = emails.GetValueOrDefault(g.UserId!.Value) }).ToList();
        }
        else if (grouping == "key")
        {
            var ids = groups.Select(g => g.KeyId!.Value).ToList();
            var names = await db.ApiKeys.AsNoTracking().Where(k => ids.Contains(k.Id)).ToDictionaryAsync(k => k.Id, k => new { k.Name, k.UserId }, cancellationToken);
            groups = groups.Select(g => names.TryGetValue(g.KeyId!.Value, out var k) ? g with { KeyName = k.Name, UserId = k.UserId } : g).ToList();
        }

        return TypedResults.Ok(new UsageReport(start, end, grouping, totals, UsageEndpoints.Order(groups, grouping), null, null));
    }
}
