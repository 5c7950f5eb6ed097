using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Audit;
using BluesMinds.Gateway.Features.Shared;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Pricing;

/// <summary>One row of the price table, in micro-dollars per million tokens ($0.15/1M = 150000).</summary>
internal sealed record ModelPriceDto(string? Model, long? InputMicrosPerMillion, long? CachedInputMicrosPerMillion, long? OutputMicrosPerMillion, DateTime? UpdatedAt = null);

internal sealed record ReplacePricesRequest(IReadOnlyList<ModelPriceDto?>? Prices);

/// <summary>
/// <c>/api/admin/pricing</c>: the per-model price table. <c>PUT /</c> replaces the whole table,
/// <c>PUT /{model}</c> sets one model, <c>DELETE /{model}</c> removes one. Every change is audited,
/// applies on this instance before the answer and is announced to the others.
/// </summary>
internal static class PricingEndpoints
{
    public const long MaxPrice = 1_000_000_000_000; // $1,000,000 per million tokens
    private const int MaxModels = 2_000;

    public static IEndpointRouteBuilder MapPricing(this IEndpointRouteBuilder app)
    {
        var pricing = app.MapGroup("/api/admin/pricing").WithTags("Admin")
            .RequireAuthorization(SessionAuthentication.AdminPolicy)
            .AddEndpointFilter<CsrfFilter>();
        pricing.MapGet("/", List);
        pricing.MapPut("/", Replace);
        pricing.MapPut("/{*model}", Set);
        pricing.MapDelete("/{*model}", Remove);
        return app;
    }

    private static async Task<IResult> List(GatewayDbContext db, CancellationToken cancellationToken)
    {
        var rows = await db.ModelPrices.AsNoTracking().OrderBy(p => p.Model).ToListAsync(cancellationToken);
        return TypedResults.Ok(new { data = rows.Select(ToDto) });
    }

    private static async Task<IResult> Replace(
        ReplacePricesRequest? request, HttpContext http, GatewayDbContext db, PriceBook prices, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (request?.Prices is null)
        {
            validation.Add("prices", "prices is required: an array of {model, input_micros_per_million, output_micros_per_million}.");
            return validation.ToResult();
        }

        if (request.Prices.Count > MaxModels)
        {
            validation.Add("prices", $"At most {MaxModels} models can be priced.");
        }

        var now = time.GetUtcNow().UtcDateTime;
        var rows = new List<ModelPrice>(request.Prices.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Prices.Count; i++)
        {
            if (Clean(request.Prices[i], request.Prices[i]?.Model, $"prices[{i}]", validation, now) is { } row)
            {
                if (!seen.Add(row.Model))
                {
                    validation.Add($"prices[{i}].model", $"The model '{row.Model}' is listed more than once.");
                }

                rows.Add(row);
            }
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.ModelPrices.ExecuteDeleteAsync(cancellationToken);
        db.ModelPrices.AddRange(rows);
        audit.Record(db, http, "pricing.replaced", CurrentSession.From(http).UserId, "pricing", null, new { models = rows.Count });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await prices.ChangedAsync(cancellationToken);
        return TypedResults.Ok(new { data = rows.OrderBy(r => r.Model, StringComparer.Ordinal).Select(ToDto) });
    }

    private static async Task<IResult> Set(
        string model, ModelPriceDto? request, HttpContext http, GatewayDbContext db, PriceBook prices, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new Validation();
        if (Clean(request, model, null, validation, time.GetUtcNow().UtcDateTime) is not { } row || !validation.IsValid)
        {
            return validation.ToResult();
        }

        var existing = await db.ModelPrices.SingleOrDefaultAsync(p => p.Model == row.Model, cancellationToken);
        if (existing is null)
        {
            db.ModelPrices.Add(row);
        }
        else
        {
            existing.InputMicrosPerMillion = row.InputMicrosPerMillion;
            existing.CachedInputMicrosPerMillion = row.CachedInputMicrosPerMillion;
            existing.OutputMicrosPerMillion = row.OutputMicrosPerMillion;
            existing.UpdatedAt = row.UpdatedAt;
        }

        audit.Record(db, http, "pricing.updated", CurrentSession.From(http).UserId, "model", row.Model, new
        {
            input_micros_per_million = row.InputMicrosPerMillion,
            cached_input_micros_per_million = row.CachedInputMicrosPerMillion,
            output_micros_per_million = row.OutputMicrosPerMillion,
        });
        await db.SaveChangesAsync(cancellationToken);
        await prices.ChangedAsync(cancellationToken);
        return TypedResults.Ok(ToDto(existing ?? row));
    }

    private static async Task<IResult> Remove(
        string model, HttpContext http, GatewayDbContext db, PriceBook prices, AuditTrail audit, CancellationToken cancellationToken)
    {
        var row = await db.ModelPrices.SingleOrDefaultAsync(p => p.Model == model, cancellationToken);
        if (row is null)
        {
            return Problems.NotFound("The price of that model");
        }

        db.ModelPrices.Remove(row);
        audit.Record(db, http, "pricing.deleted", CurrentSession.From(http).UserId, "model", row.Model);
        await db.SaveChangesAsync(cancellationToken);
        await prices.ChangedAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>Validates one price; <paramref name="field"/> prefixes error keys inside a list (<c>prices[3]</c>), null for a single price.</summary>
    private static ModelPrice? Clean(ModelPriceDto? dto, string? modelName, string? field, Validation validation, DateTime now)
    {
        string Key(string name) => field is null ? name : field + "." + name;
        if (dto is null)
        {
            validation.Add(field ?? "body", "Each price must be an object.");
            return null;
        }

        var model = TextInput.Clean(modelName, "model", 200, out var problem);
        validation.Add(Key("model"), problem);
        Check(dto.InputMicrosPerMillion, Key("input_micros_per_million"), required: true, validation);
        Check(dto.OutputMicrosPerMillion, Key("output_micros_per_million"), required: true, validation);
        Check(dto.CachedInputMicrosPerMillion, Key("cached_input_micros_per_million"), required: false, validation);
        if (model is null || dto.InputMicrosPerMillion is null || dto.OutputMicrosPerMillion is null)
        {
            return null;
        }

        return new ModelPrice
        {
            Model = model,
            InputMicrosPerMillion = dto.InputMicrosPerMillion.Value,
            CachedInputMicrosPerMillion = dto.CachedInputMicrosPerMillion,
            OutputMicrosPerMillion = dto.OutputMicrosPerMillion.Value,
            UpdatedAt = now,
        };
    }

    private static void Check(long? value, string field, bool required, Validation validation)
    {
        if (value is null)
        {
            if (required)
            {
                validation.Add(field, $"{field} is required (micro-dollars per million tokens).");
            }
        }
        else if (value is < 0 or > MaxPrice)
        {
            validation.Add(field, $"{field} must be between 0 and {MaxPrice}.");
        }
    }

    private static ModelPriceDto ToDto(ModelPrice p) => new(p.Model, p.InputMicrosPerMillion, p.CachedInputMicrosPerMillion, p.OutputMicrosPerMillion, p.UpdatedAt);
}
