using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Usage;

/// <summary>
/// <c>/api/usage</c>: the caller's own usage. Aggregates come from the daily rollups; raw rows are
/// paged. Every query carries the caller's user id, so no filter can reach another account.
/// </summary>
internal static class UsageEndpoints
{
    private static readonly string[] Groupings = ["day", "model", "key"];

    public static IEndpointRouteBuilder MapUsage(this IEndpointRouteBuilder app)
    {
        var usage = app.MapGroup("/api/usage").WithTags("Usage").RequireAuthorization(SessionAuthentication.UserPolicy);
        usage.MapGet("/", Summary);
        usage.MapGet("/logs", Logs);
        return app;
    }

    private static async Task<IResult> Summary(
        DateOnly? from, DateOnly? to, [FromQuery(Name = "group_by")] string? groupBy, HttpContext http, GatewayDbContext db,
        IOptions<RateLimitOptions> defaults, TimeProvider time, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var now = time.GetUtcNow();
        var validation = new Validation();
        var (start, end) = UsageQueries.Range(from, to, groupBy, Groupings, now, validation);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var grouping = groupBy ?? "day";
        var rows = db.UsageDaily.AsNoTracking().Where(u => u.UserId == user && u.Day >= start && u.Day <= end);
        var (totals, groups) = await UsageQueries.AggregateAsync(rows, grouping, cancellationToken);
        if (grouping == "key")
        {
            var ids = groups.Select(g => g.KeyId!.Value).ToList();
            var names = await db.ApiKeys.AsNoTracking().Where(k => k.UserId == user && ids.Contains(k.Id)).ToDictionaryAsync(k => k.Id, k => k.Name, cancellationToken);
            groups = groups.Select(g => g with { KeyName = names.GetValueOrDefault(g.KeyId!.Value) }).ToList();
        }

        var limits = await LimitPolicySource.ReadAccountLimitsAsync(db, user, defaults.Value, cancellationToken);
        var period = QuotaPeriod.CalendarMonth(now);
        var firstDay = DateOnly.FromDateTime(period.Start.UtcDateTime);
        var used = await db.UsageDaily.Where(u => u.UserId == user && u.Day >= firstDay).SumAsync(u => u.TotalTokens, cancellationToken);
        return TypedResults.Ok(new UsageReport(
            start, end, grouping, totals, Order(groups, grouping),
            new UsageLimits(limits.RequestsPerMinute, limits.TokensPerMinute, limits.ConcurrentRequests, limits.MonthlyTokens),
            new UsageQuota(limits.MonthlyTokens, used, period.Start, period.End)));
    }

    private static async Task<IResult> Logs(
        int? page, [FromQuery(Name = "page_size")] int? pageSize, [FromQuery(Name = "key_id")] Guid? keyId, string? model, int? status,
        DateTime? from, DateTime? to, HttpContext http, GatewayDbContext db, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var validation = new Validation();
        Paging.TryCreate(page, pageSize, validation, out var paging);
        var modelFilter = TextInput.Clean(model, "model", 200, out var modelProblem, required: false);
        validation.Add("model", modelProblem);
        if (status is < 100 or > 599)
        {
            validation.Add("status", "status must be an HTTP status code (100-599).");
        }

        if (from is not null && to is not null && from > to)
        {
            validation.Add("from", "from must not be after to.");
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var query = db.UsageLogs.AsNoTracking().Where(u => u.UserId == user);
        if (keyId is { } key)
        {
            query = query.Where(u => u.ApiKeyId == key);
        }

        if (modelFilter is not null)
        {
            query = query.Where(u => u.ModelRequested == modelFilter);
        }

        if (status is { } code)
        {
            query = query.Where(u => u.StatusCode == code);
        }

        if (from is { } start)
        {
            var utc = start.ToUniversalTime();
            query = query.Where(u => u.CreatedAt >= utc);
        }

        if (to is { } end)
        {
            var utc = end.ToUniversalTime();
            query = query.Where(u => u.CreatedAt < utc);
        }

        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(u => u.Id).Skip(paging.Skip).Take(paging.PageSize)
            .Select(u => new UsageLogResponse(
                u.RequestId, u.ApiKeyId, u.Endpoint, u.ModelRequested, u.ModelServed, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.TotalTokens,
                u.TokensEstimated, u.CostMicros, u.LatencyMs, u.TimeToFirstByteMs, u.Streamed, u.ClientDisconnected, u.StatusCode, u.ErrorCode, u.CreatedAt))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedList<UsageLogResponse>(rows, paging.Page, paging.PageSize, total));
    }

    internal static List<UsageGroup> Order(List<UsageGroup> groups, string grouping) => grouping switch
    {
        "day" => [.. groups.OrderBy(g => g.Day)],
        _ => [.. groups.OrderByDescending(g => g.CostMicros).ThenByDescending(g => g.TotalTokens).ThenBy(g => g.Model ?? g.KeyId?.ToString() ?? g.UserId?.ToString(), StringComparer.Ordinal)],
    };
}
