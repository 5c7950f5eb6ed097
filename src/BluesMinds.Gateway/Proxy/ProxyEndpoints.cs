using System.Text.Json;
using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using BluesMinds.Gateway.Proxy.Forwarding;
using BluesMinds.Gateway.Proxy.Limits;
using BluesMinds.Gateway.Proxy.ModelRouting;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy;

/// <summary>
/// The OpenAI-compatible routes, under <c>/api/v1</c> and <c>/v1</c>. The stage order of the hot path
/// is written here and nowhere else:
/// <code>
/// [1 key auth] → [2 body peek] → [3 limits] → [4 model routing] → [5 forward/stream] → [6 usage]
///     401           400/413        429           403/404/503         502/504
/// </code>
/// </summary>
internal static class ProxyEndpoints
{
    public static IEndpointRouteBuilder MapProxy(this IEndpointRouteBuilder app)
    {
        // The pipeline is a singleton taken from the root container: asking for it as a handler
        // parameter resolved it through the request's scope, which created that scope (a container
        // scope and its dictionary) on every request for nothing.
        var pipeline = new Lazy<ProxyPipeline>(() => app.ServiceProvider.GetRequiredService<ProxyPipeline>());
        foreach (var prefix in new[] { "/api/v1", "/v1" })
        {
            var group = app.MapGroup(prefix).WithTags("Gateway").WithMetadata(Hosting.Http.ApiKeyEndpoint.Instance);
            group.MapPost("/chat/completions", (HttpContext http) => pipeline.Value.HandleAsync(http, ProxyOperation.ChatCompletions))
                .WithMetadata(new Hosting.Http.BodyLimitCheckedByEndpoint());
            group.MapPost("/embeddings", (HttpContext http) => pipeline.Value.HandleAsync(http, ProxyOperation.Embeddings))
                .WithMetadata(new Hosting.Http.BodyLimitCheckedByEndpoint());
            group.MapGet("/models", (HttpContext http) => pipeline.Value.ListModelsAsync(http));
        }

        return app;
    }
}

/// <summary>Runs the stages for one request; each stage either passes the context on or answers.</summary>
internal sealed class ProxyPipeline(
    ApiKeyLookup keys,
    RoutingTableSource tables,
    ModelRouter router,
    UpstreamForwarder forwarder,
    UpstreamHealthRegistry health,
    TokenCounter tokens,
    LimitGate limits,
    PriceBook prices,
    UsageQueue usageQueue,
    IOptions<AppOptions> app,
    TimeProvider time)
{
    /// <summary>
    /// Bodies up to this size are counted on the thread that read them (typical chat requests are a
    /// few kilobytes; the hand-off costs microseconds, a 16 KiB count a few hundred).
    /// </summary>
    internal const int InlineBodyBytes = 16 * 1024;

    public async Task HandleAsync(HttpContext http, ProxyOperation operation)
    {
        // [1] Key auth: nothing else happens for a caller we do not know.
        var key = await AuthenticateAsync(http);
        if (key is null)
        {
            return;
        }

        var context = new ProxyContext(http, operation, new UsageRecord
        {
            RequestId = http.TraceIdentifier,
            Endpoint = operation == ProxyOperation.ChatCompletions ? "chat.completions" : "embeddings",
            UserId = key.UserId,
            ApiKeyId = key.KeyId,
            CreatedAt = time.GetUtcNow().UtcDateTime,
        })
        {
            Key = key,
        };

        var usage = (UsageReader?)null;
        try
        {
            // [2] Body peek: model, stream, max_tokens, n — validated without building a document.
            if (!await ReadBodyAsync(context))
            {
                return;
            }

            context.Usage.ModelRequested = context.Peek!.Model;
            if (context.Body.Length > InlineBodyBytes)
            {
                // The prompt count and any rewrite of the body grow with it: not on a socket thread.
                await InlineSocketIo.LeaveAsync();
            }

            // [3] Limits: requests, concurrency, and prompt plus max_tokens reserved against the
            // per-minute tokens and the monthly quota, all in one atomic step.
            if (!await limits.AdmitAsync(context))
            {
                return;
            }

            // [4] Model routing.
            var model = context.Peek.Model!;
            if (!key.AllowsModel(model))
            {
                await ProxyErrors.WriteAsync(context, 403, $"This API key is not allowed to use the model '{model}'.", "model_not_allowed", "model");
                return;
            }

            context.UpstreamModel = router.ResolveAlias(model);
            var candidates = new List<UpstreamServer>(4);
            var outcome = router.Candidates(await tables.GetAsync(http.RequestAborted), context.UpstreamModel, candidates);
            if (outcome == RouteOutcome.UnknownModel)
            {
                await ProxyErrors.WriteAsync(context, 404, $"The model '{model}' does not exist or you do not have access to it.", "model_not_found", "model");
                return;
            }

            if (outcome == RouteOutcome.NoAvailableServer)
            {
                await ProxyErrors.WriteAsync(context, 503, $"No healthy upstream server is available for model '{model}' right now.", "no_available_upstream");
                return;
            }

            // [5] Forward, failing over while nothing has reached the client.
            usage = new UsageReader(context.Peek.Stream);
            await forwarder.ForwardAsync(context, candidates, usage);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            context.Usage.ClientDisconnected = true;
            context.Usage.StatusCode = 499;
            context.Usage.ErrorCode ??= "client_disconnected";
        }
        finally
        {
            // [6] Usage: exactly one record per authenticated request, whatever happened above,
            // and the reservation settled to it.
            await AccountAsync(context, usage);
            usage?.Dispose();
            await LimitGate.SettleAsync(context, context.Usage);
            await usageQueue.EnqueueAsync(context.Usage);
        }
    }

    public async Task ListModelsAsync(HttpContext http)
    {
        var key = await AuthenticateAsync(http);
        if (key is null)
        {
            return;
        }

        await limits.ApplyHeadersAsync(http, key);
        var table = await tables.GetAsync(http.RequestAborted);
        var now = time.GetUtcNow();
        var served = table.Servers
            .Where(s => s.Enabled && health.For(s.Id).IsAvailable(now))
            .SelectMany(s => s.SupportedModels)
            .ToHashSet(StringComparer.Ordinal);
        // An alias is listed when its target is served: clients may ask for either name.
        served.UnionWith(router.Aliases.Where(a => served.Contains(a.Value)).Select(a => a.Key).ToList());
        var models = served.Where(key.AllowsModel).Order(StringComparer.Ordinal).ToList();

        http.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(http.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("object", "list");
        writer.WriteStartArray("data");
        foreach (var model in models)
        {
            writer.WriteStartObject();
            writer.WriteString("id", model);
            writer.WriteString("object", "model");
            writer.WriteNumber("created", 0);
            writer.WriteString("owned_by", "bluesminds");
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(http.RequestAborted);
    }

    private async Task<ResolvedApiKey?> AuthenticateAsync(HttpContext http)
    {
        var header = http.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : string.Empty;
        var resolution = presented.Length == 0
            ? new ApiKeyResolution(ApiKeyStatus.Malformed, null)
            : await keys.ResolveAsync(presented, http.RequestAborted);
        if (resolution.IsActive)
        {
            return resolution.Key;
        }

        var message = resolution.Status switch
        {
            _ when presented.Length == 0 => "You didn't provide an API key. Send it as 'Authorization: Bearer bm_...'.",
            ApiKeyStatus.Revoked => "This API key has been revoked.",
            ApiKeyStatus.Expired => "This API key has expired.",
            ApiKeyStatus.UserSuspended => "The account that owns this API key is suspended.",
            _ => "Incorrect API key provided. Create one in your dashboard.",
        };
        http.Response.Headers.WWWAuthenticate = "Bearer";
        await Hosting.Http.ApiErrors.WriteAsync(http, 401, "invalid_api_key", message, "invalid_api_key");
        return null;
    }

    private async Task<bool> ReadBodyAsync(ProxyContext context)
    {
        var request = context.Http.Request;
        var limit = app.Value.MaxRequestBodyBytes;
        // A declared length over the limit is refused unread; a chunked body is stopped by Kestrel's limit.
        var tooLarge = request.ContentLength > limit;
        var buffer = new MemoryStream(!tooLarge && request.ContentLength is { } length and > 0 ? (int)length : 4096);
        try
        {
            if (!tooLarge)
            {
                await request.Body.CopyToAsync(buffer, context.Http.RequestAborted);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            tooLarge = true;
        }

        if (tooLarge)
        {
            await limits.ApplyHeadersAsync(context.Http, context.Key!);
            await ProxyErrors.WriteAsync(context, 413, $"The request body is larger than the limit of {limit} bytes.", "request_too_large");
            return false;
        }

        context.Body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        context.Peek = RequestPeek.Read(context.Body.Span, context.Operation);
        if (context.Peek.Problem is { } problem)
        {
            context.Usage.ModelRequested = context.Peek.Model;
            await limits.ApplyHeadersAsync(context.Http, context.Key!);
            await ProxyErrors.WriteAsync(context, 400, problem.Message, problem.Code, problem.Param);
            return false;
        }

        return true;
    }

    /// <summary>Final token counts (the upstream's own when it reported them, otherwise counted here and flagged) and their cost.</summary>
    private async ValueTask AccountAsync(ProxyContext context, UsageReader? usage)
    {
        var record = context.Usage;
        record.LatencyMs = context.ElapsedMs;
        if (record.StatusCode == 0)
        {
            record.StatusCode = context.Http.Response.StatusCode;
        }

        if (usage?.Usage is { } reported)
        {
            record.PromptTokens = reported.PromptTokens;
            record.CompletionTokens = reported.CompletionTokens;
            record.CachedTokens = reported.CachedTokens;
            record.TotalTokens = reported.TotalTokens;
        }
        else if (usage is not null && record.ServerId is not null && record.StatusCode is < 400 or 499)
        {
            // An upstream answered without reporting usage: counted here, and off the socket
            // thread, since the count grows with the prompt and the completion.
            await InlineSocketIo.LeaveAsync();
            CountTokens(context, usage);
        }

        // Otherwise nothing reached an upstream, or it answered with an error: nothing to count.
        record.CostMicros = prices.CostMicros(record);
    }

    private void CountTokens(ProxyContext context, UsageReader usage)
    {
        var record = context.Usage;
        var body = context.Body.Span;
        record.TokensEstimated = true;
        if (context.Operation == ProxyOperation.Embeddings)
        {
            record.PromptTokens = context.PromptTokens ?? tokens.CountEmbeddingInput(body);
        }
        else
        {
            record.PromptTokens = context.PromptTokens ?? tokens.CountChatPrompt(body);
            record.CompletionTokens = tokens.Count(context.Peek!.Stream ? usage.CompletionText : usage.NonStreamedCompletionText());
        }

        record.TotalTokens = record.PromptTokens + record.CompletionTokens;
    }
}
