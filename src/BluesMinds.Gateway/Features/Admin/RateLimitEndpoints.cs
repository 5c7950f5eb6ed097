using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Admin;

/// <summary>The limits of one scope; a null limit inherits from the wider scope, 0 means no limit.</summary>
internal sealed record RateLimitRequest(int? RequestsPerMinute, int? TokensPerMinute, int? ConcurrentRequests, long? MonthlyTokenQuota);

internal sealed record RateLimitResponse(
    Guid Id, string Scope, int? PlanId, Guid? UserId, Guid? ApiKeyId,
    int? RequestsPerMinute, int? TokensPerMinute, int? ConcurrentRequests, long? MonthlyTokenQuota, DateTime UpdatedAt)
{
    public static RateLimitResponse From(RateLimit r) => new(
        r.Id, r.Scope, r.PlanId, r.UserId, r.ApiKeyId, r.RequestsPerMinute, r.TokensPerMinute, r.ConcurrentRequests, r.MonthlyTokenQuota, r.UpdatedAt);
}

/// <summary>
/// <c>/api/admin/rate-limits</c>: limits per plan and overrides per user or key (rows of
/// <c>rate_limits</c>). Changes apply to new requests at once on every instance.
/// </summary>
internal static class RateLimitEndpoints
{
    public static IEndpointRouteBuilder MapRateLimits(this IEndpointRouteBuilder app)
    {
        var limits = app.MapGroup("/api/admin/rate-limits").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .AddEndpointFilter<CsrfFilter>();
        limits.MapGet("/", List);
        limits.MapPut("/plans/{planId:int}", (int planId, RateLimitRequest? request, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, TimeProvider time, CancellationToken ct) =>
            SetAsync(new Target(RateLimitScopes.Plan, planId, null, null), request, http, db, invalidation, audit, time, ct));
        limits.MapPut("/users/{userId:guid}", (Guid userId, RateLimitRequest? request, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, TimeProvider time, CancellationToken ct) =>
            SetAsync(new Target(RateLimitScopes.User, null, userId, null), request, http, db, invalidation, audit, time, ct));
        limits.MapPut("/keys/{keyId:guid}", (Guid keyId, RateLimitRequest? request, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, TimeProvider time, CancellationToken ct) =>
            SetAsync(new Target(RateLimitScopes.Key, null, null, keyId), request, http, db, invalidation, audit, time, ct));
        limits.MapDelete("/plans/{planId:int}", (int planId, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, CancellationToken ct) =>
            RemoveAsync(new Target(RateLimitScopes.Plan, planId, null, null), http, db, invalidation, audit, ct));
        limits.MapDelete("/users/{userId:guid}", (Guid userId, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, CancellationToken ct) =>
            RemoveAsync(new Target(RateLimitScopes.User, null, userId, null), http, db, invalidation, audit, ct));
        limits.MapDelete("/keys/{keyId:guid}", (Guid keyId, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, CancellationToken ct) =>
            RemoveAsync(new Target(RateLimitScopes.Key, null, null, keyId), http, db, invalidation, audit, ct));
        return app;
    }

    private static async Task<IResult> List(GatewayDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.RateLimits.AsNoTracking().OrderBy(r => r.Scope).ThenBy(r => r.PlanId).ThenBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        return TypedResults.Ok(new { data = rows.Select(RateLimitResponse.From) });
    }

    private static async Task<IResult> SetAsync(
        Target target, RateLimitRequest? request, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation,
        AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (request is null)
        {
            validation.Add("body", "Give at least one of requests_per_minute, tokens_per_minute, concurrent_requests, monthly_token_quota.");
            return validation.ToResult();
        }

        NotNegative(request.RequestsPerMinute, "requests_per_minute", validation);
        NotNegative(request.TokensPerMinute, "tokens_per_minute", validation);
        NotNegative(request.ConcurrentRequests, "concurrent_requests", validation);
        NotNegative(request.MonthlyTokenQuota, "monthly_token_quota", validation);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await OwnerAsync(target, db, cancellationToken) is not { } owner)
        {
            return Problems.NotFound(target.What);
        }

        var now = time.GetUtcNow().UtcDateTime;
        var row = await Rows(db, target).SingleOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            row = new RateLimit { Id = Guid.CreateVersion7(), Scope = target.Scope, PlanId = target.PlanId, UserId = target.UserId, ApiKeyId = target.KeyId, CreatedAt = now };
            db.RateLimits.Add(row);
        }

        row.RequestsPerMinute = request.RequestsPerMinute;
        row.TokensPerMinute = request.TokensPerMinute;
        row.ConcurrentRequests = request.ConcurrentRequests;
        row.MonthlyTokenQuota = request.MonthlyTokenQuota;
        row.UpdatedAt = now;
        audit.Record(db, http, "rate_limits.updated", CurrentSession.From(http).UserId, target.Scope, target.Id, request);
        await db.SaveChangesAsync(cancellationToken);
        await ApplyAsync(owner, invalidation);
        return TypedResults.Ok(RateLimitResponse.From(row));
    }

    private static async Task<IResult> RemoveAsync(
        Target target, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit, CancellationToken cancellationToken)
    {
        var row = await Rows(db, target).SingleOrDefaultAsync(cancellationToken);
        if (row is null || await OwnerAsync(target, db, cancellationToken) is not { } owner)
        {
            return Problems.NotFound("The limits of " + target.What.ToLowerInvariant());
        }

        db.RateLimits.Remove(row);
        audit.Record(db, http, "rate_limits.deleted", CurrentSession.From(http).UserId, target.Scope, target.Id);
        await db.SaveChangesAsync(cancellationToken);
        await ApplyAsync(owner, invalidation);
        return TypedResults.NoContent();
    }

    private static IQueryable<RateLimit> Rows(GatewayDbContext db, Target target) => target.Scope switch
    {
        RateLimitScopes.Plan => db.RateLimits.Where(r => r.PlanId == target.PlanId),
        RateLimitScopes.User => db.RateLimits.Where(r => r.UserId == target.UserId),
        _ => db.RateLimits.Where(r => r.ApiKeyId == target.KeyId),
    };

    /// <summary>The user whose cached limits change; <see cref="Guid.Empty"/> for a plan (every user of it).</summary>
    private static async Task<Guid?> OwnerAsync(Target target, GatewayDbContext db, CancellationToken cancellationToken) => target.Scope switch
    {
        RateLimitScopes.Plan => await db.BillingPlans.AnyAsync(p => p.Id == target.PlanId, cancellationToken) ? Guid.Empty : null,
        RateLimitScopes.User => await db.Users.AnyAsync(u => u.Id == target.UserId && u.Status != UserStatuses.Deleted, cancellationToken) ? target.UserId : null,
        _ => await db.ApiKeys.Where(k => k.Id == target.KeyId).Select(k => (Guid?)k.UserId).SingleOrDefaultAsync(cancellationToken),
    };

    private static Task ApplyAsync(Guid? owner, ApiKeyCacheInvalidation invalidation) =>
        owner == Guid.Empty ? invalidation.AllLimitsChangedAsync() : invalidation.UserChangedAsync(owner!.Value);

    private static void NotNegative(long? value, string field, Validation validation)
    {
        if (value is < 0)
        {
            validation.Add(field, $"{field} must be 0 (no limit) or more; leave it out to inherit.");
        }
    }

    private sealed record Target(string Scope, int? PlanId, Guid? UserId, Guid? KeyId)
    {
        public string Id => PlanId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? (UserId ?? KeyId)!.Value.ToString();

        public string What => Scope switch
        {
            RateLimitScopes.Plan => "The plan",
            RateLimitScopes.User => "The user",
            _ => "The API key",
        };
    }
}
