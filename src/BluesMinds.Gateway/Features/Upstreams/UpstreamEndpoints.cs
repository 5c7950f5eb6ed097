using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Hosting.Security;
using BluesMinds.Gateway.Proxy.ModelRouting;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Upstreams;

/// <summary>
/// <c>/api/admin/servers</c>: the upstream servers. Every change reloads this instance's routing
/// table before answering and is announced to the other instances.
/// </summary>
internal static class UpstreamEndpoints
{
    private const int MaxModels = 500;

    public static IEndpointRouteBuilder MapUpstreams(this IEndpointRouteBuilder app)
    {
        var servers = app.MapGroup("/api/admin/servers").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .AddEndpointFilter<CsrfFilter>();
        servers.MapGet("/", List);
        servers.MapPost("/", Create);
        servers.MapGet("/{id:guid}", Get);
        servers.MapPatch("/{id:guid}", Update);
        servers.MapDelete("/{id:guid}", Delete);
        servers.MapGet("/{id:guid}/health", Health);
        return app;
    }

    private static async Task<IResult> List(GatewayDbContext db, UpstreamHealthRegistry health, CancellationToken cancellationToken)
    {
        var rows = await db.LitellmServers.AsNoTracking().OrderBy(s => s.Priority).ThenBy(s => s.Name).ToListAsync(cancellationToken);
        return TypedResults.Ok(new { data = rows.Select(r => ServerResponse.From(r, health.For(r.Id))) });
    }

    private static async Task<IResult> Get(Guid id, GatewayDbContext db, UpstreamHealthRegistry health, CancellationToken cancellationToken)
    {
        var row = await db.LitellmServers.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        return row is null ? Problems.NotFound("The server") : TypedResults.Ok(ServerResponse.From(row, health.For(row.Id)));
    }

    private static async Task<IResult> Health(Guid id, GatewayDbContext db, UpstreamHealthRegistry health, CancellationToken cancellationToken)
    {
        var row = await db.LitellmServers.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        return row is null ? Problems.NotFound("The server") : TypedResults.Ok(ServerHealthResponse.From(row, health.For(row.Id)));
    }

    private static async Task<IResult> Create(
        CreateServerRequest? request, HttpContext http, GatewayDbContext db, SecretProtector protector, RoutingTableSource tables,
        UpstreamHealthRegistry health, UpstreamHealthMonitor monitor, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        var name = TextInput.Clean(request?.Name, "name", 100, out var nameProblem);
        validation.Add("name", nameProblem);
        var baseUrl = CleanBaseUrl(request?.BaseUrl, validation, required: true);
        var apiKey = CleanApiKey(request?.ApiKey, validation);
        CheckRange(request?.Weight, "weight", 0, 1000, validation);
        CheckRange(request?.Priority, "priority", 0, 1000, validation);
        var models = CleanModels(request?.SupportedModels, validation, required: true);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = time.GetUtcNow().UtcDateTime;
        var row = new LitellmServer
        {
            Id = Guid.CreateVersion7(),
            Name = name!,
            BaseUrl = baseUrl!,
            ApiKeyEncrypted = apiKey is { Length: > 0 } ? protector.Protect(apiKey) : null,
            Weight = request!.Weight ?? 100,
            Priority = request.Priority ?? 1,
            SupportedModels = models!,
            Enabled = request.Enabled ?? true,
            CreatedAt = now,
            UpdatedAt = now,
        };
        db.LitellmServers.Add(row);
        audit.Record(db, http, "server.created", CurrentSession.From(http).UserId, "server", row.Id.ToString(), new { row.Name, row.BaseUrl });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict($"A server named '{row.Name}' already exists.");
        }

        await tables.ChangedAsync(cancellationToken);
        monitor.CheckSoon();
        return TypedResults.Created($"/api/admin/servers/{row.Id}", ServerResponse.From(row, health.For(row.Id)));
    }

    private static async Task<IResult> Update(
        Guid id, UpdateServerRequest? request, HttpContext http, GatewayDbContext db, SecretProtector protector, RoutingTableSource tables,
        UpstreamHealthRegistry health, UpstreamHealthMonitor monitor, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (request is null)
        {
            validation.Add("body", "A JSON object with the fields to change is required.");
            return validation.ToResult();
        }

        var name = request.Name is null ? null : TextInput.Clean(request.Name, "name", 100, out var nameProblem) ?? Fail(validation, "name", nameProblem);
        var baseUrl = request.BaseUrl is null ? null : CleanBaseUrl(request.BaseUrl, validation, required: true);
        var apiKey = CleanApiKey(request.ApiKey, validation);
        CheckRange(request.Weight, "weight", 0, 1000, validation);
        CheckRange(request.Priority, "priority", 0, 1000, validation);
        var models = request.SupportedModels is null ? null : CleanModels(request.SupportedModels, validation, required: true);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var row = await db.LitellmServers.SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (row is null)
        {
            return Problems.NotFound("The server");
        }

        row.Name = name ?? row.Name;
        row.BaseUrl = baseUrl ?? row.BaseUrl;
        if (request.ApiKey is not null)
        {
            row.ApiKeyEncrypted = apiKey is { Length: > 0 } ? protector.Protect(apiKey) : null;
        }

        row.Weight = request.Weight ?? row.Weight;
        row.Priority = request.Priority ?? row.Priority;
        row.SupportedModels = models ?? row.SupportedModels;
        row.Enabled = request.Enabled ?? row.Enabled;
        row.UpdatedAt = time.GetUtcNow().UtcDateTime;
        audit.Record(db, http, "server.updated", CurrentSession.From(http).UserId, "server", row.Id.ToString(), new { row.Name, row.Enabled, api_key_changed = request.ApiKey is not null });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return Problems.Conflict($"A server named '{row.Name}' already exists.");
        }

        await tables.ChangedAsync(cancellationToken);
        monitor.CheckSoon();
        return TypedResults.Ok(ServerResponse.From(row, health.For(row.Id)));
    }

    private static async Task<IResult> Delete(
        Guid id, HttpContext http, GatewayDbContext db, RoutingTableSource tables, AuditTrail audit, CancellationToken cancellationToken)
    {
        var row = await db.LitellmServers.SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (row is null)
        {
            return Problems.NotFound("The server");
        }

        db.LitellmServers.Remove(row);
        audit.Record(db, http, "server.deleted", CurrentSession.From(http).UserId, "server", row.Id.ToString(), new { row.Name });
        await db.SaveChangesAsync(cancellationToken);
        await tables.ChangedAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static string? Fail(Validation validation, string field, string? problem)
    {
        validation.Add(field, problem);
        return null;
    }

    private static string? CleanBaseUrl(string? value, Validation validation, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                validation.Add("base_url", "base_url is required, e.g. http://litellm:4000.");
            }

            return null;
        }

        var trimmed = value.Trim();
        if (trimmed.Length > 2048 || !Uri.TryCreate(trimmed, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            validation.Add("base_url", "base_url must be an http(s) URL without credentials, query or fragment, e.g. http://litellm:4000.");
            return null;
        }

        return uri.ToString().TrimEnd('/');
    }

    private static string? CleanApiKey(string? value, Validation validation)
    {
        if (value is null || value.Length == 0)
        {
            return value;
        }

        if (value.Length > 1000 || value.Any(char.IsControl) || value.Any(char.IsWhiteSpace))
        {
            validation.Add("api_key", "api_key must be at most 1000 characters with no spaces or control characters.");
            return null;
        }

        return value;
    }

    private static void CheckRange(int? value, string field, int min, int max, Validation validation)
    {
        if (value is { } v && (v < min || v > max))
        {
            validation.Add(field, $"{field} must be between {min} and {max}.");
        }
    }

    private static List<string>? CleanModels(List<string>? models, Validation validation, bool required)
    {
        if (models is null || models.Count == 0)
        {
            if (required)
            {
                validation.Add("supported_models", "supported_models must list at least one model.");
            }

            return null;
        }

        if (models.Count > MaxModels)
        {
            validation.Add("supported_models", $"supported_models may list at most {MaxModels} models.");
            return null;
        }

        var clean = new List<string>(models.Count);
        foreach (var model in models)
        {
            var value = TextInput.Clean(model, "supported_models entry", 200, out var problem);
            validation.Add("supported_models", problem);
            if (value is not null && !clean.Contains(value, StringComparer.Ordinal))
            {
                clean.Add(value);
            }
        }

        return clean;
    }
}
