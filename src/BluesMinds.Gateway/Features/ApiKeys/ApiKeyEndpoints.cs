using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.ApiKeys;

/// <summary>
/// <c>/api/keys</c>: a user's own keys. Every query carries the caller's user id, so another user's
/// key is simply not found (404, never 403, so ids reveal nothing).
/// </summary>
internal static class ApiKeyEndpoints
{
    private const int MaxAllowedModels = 100;

    public static IEndpointRouteBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var keys = app.MapGroup("/api/keys").WithTags("API keys")
            .RequireAuthorization(SessionAuthentication.UserPolicy)
            .AddEndpointFilter<CsrfFilter>();
        keys.MapPost("/", Create);
        keys.MapGet("/", List);
        keys.MapPost("/{id:guid}/rotate", Rotate);
        keys.MapDelete("/{id:guid}", Revoke);
        return app;
    }

    private static async Task<IResult> Create(
        CreateApiKeyRequest? request, HttpContext http, GatewayDbContext db, ApiKeySecrets secrets, AuditTrail audit,
        IOptions<ApiKeyOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var now = time.GetUtcNow().UtcDateTime;
        var validation = new Validation();
        var name = TextInput.Clean(request?.Name, "name", 100, out var nameProblem);
        validation.Add("name", nameProblem);
        if (request?.ExpiresAt is { } expires && ToUtc(expires) <= now)
        {
            validation.Add("expires_at", "expires_at must be in the future.");
        }

        var models = CleanModels(request?.AllowedModels, validation);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var active = await db.ApiKeys.CountAsync(k => k.UserId == user && k.RevokedAt == null, cancellationToken);
        if (active >= options.Value.MaxKeysPerUser)
        {
            return Problems.Conflict($"An account may hold at most {options.Value.MaxKeysPerUser} keys; revoke one first.");
        }

        var secret = ApiKeySecrets.Generate();
        var key = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            UserId = user,
            Name = name!,
            KeyHash = secrets.Hash(secret),
            Prefix = ApiKeySecrets.DisplayPrefix(secret),
            LastFour = ApiKeySecrets.LastFour(secret),
            AllowedModels = models,
            ExpiresAt = request!.ExpiresAt is { } e ? ToUtc(e) : null,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.ApiKeys.Add(key);
        audit.Record(db, http, AuditActions.KeyCreated, user, "api_key", key.Id.ToString(), new { name = key.Name, prefix = key.Prefix });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/keys/{key.Id}", SecretResponse(key, secret));
    }

    private static async Task<IResult> List(HttpContext http, GatewayDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var now = time.GetUtcNow().UtcDateTime;
        var keys = await db.ApiKeys.AsNoTracking()
            .Where(k => k.UserId == user && k.RevokedAt == null)
            .OrderByDescending(k => k.CreatedAt)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new { data = keys.Select(k => ApiKeyResponse.From(k, now)) });
    }

    private static async Task<IResult> Rotate(
        Guid id, HttpContext http, GatewayDbContext db, ApiKeySecrets secrets, ApiKeyCacheInvalidation invalidation, AuditTrail audit,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id && k.UserId == user && k.RevokedAt == null, cancellationToken);
        if (key is null)
        {
            return Problems.NotFound("The API key");
        }

        var oldHash = key.KeyHash;
        var secret = ApiKeySecrets.Generate();
        key.KeyHash = secrets.Hash(secret);
        key.Prefix = ApiKeySecrets.DisplayPrefix(secret);
        key.LastFour = ApiKeySecrets.LastFour(secret);
        key.UpdatedAt = time.GetUtcNow().UtcDateTime;
        audit.Record(db, http, AuditActions.KeyRotated, user, "api_key", key.Id.ToString(), new { prefix = key.Prefix });
        await db.SaveChangesAsync(cancellationToken);
        await invalidation.KeyChangedAsync(oldHash);
        return TypedResults.Ok(SecretResponse(key, secret));
    }

    private static async Task<IResult> Revoke(
        Guid id, HttpContext http, GatewayDbContext db, ApiKeyCacheInvalidation invalidation, AuditTrail audit,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var user = CurrentSession.From(http).UserId;
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id && k.UserId == user && k.RevokedAt == null, cancellationToken);
        if (key is null)
        {
            return Problems.NotFound("The API key");
        }

        key.RevokedAt = time.GetUtcNow().UtcDateTime;
        key.UpdatedAt = key.RevokedAt.Value;
        audit.Record(db, http, AuditActions.KeyRevoked, user, "api_key", key.Id.ToString(), new { prefix = key.Prefix });
        await db.SaveChangesAsync(cancellationToken);
        await invalidation.KeyChangedAsync(key.KeyHash);
        return TypedResults.NoContent();
    }

    private static ApiKeySecretResponse SecretResponse(ApiKey key, string secret) =>
        new(key.Id, key.Name, secret, key.Prefix, key.LastFour, key.AllowedModels, key.CreatedAt, key.ExpiresAt);

    private static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    private static List<string> CleanModels(List<string>? models, Validation validation)
    {
        if (models is null)
        {
            return [];
        }

        if (models.Count > MaxAllowedModels)
        {
            validation.Add("allowed_models", $"allowed_models may list at most {MaxAllowedModels} models.");
            return [];
        }

        var clean = new List<string>(models.Count);
        foreach (var model in models)
        {
            var value = TextInput.Clean(model, "allowed_models entry", 200, out var problem);
            validation.Add("allowed_models", problem);
            if (value is not null && !clean.Contains(value, StringComparer.Ordinal))
            {
                clean.Add(value);
            }
        }

        return clean;
    }
}
