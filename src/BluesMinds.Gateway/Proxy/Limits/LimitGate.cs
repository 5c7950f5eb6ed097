using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using BluesMinds.Gateway.Proxy.Forwarding;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// Stage 3 of the hot path: counts the prompt, reserves prompt plus <c>max_tokens</c> (times
/// <c>n</c>) against every limit at once, and settles the reservation to the real usage at the end.
/// </summary>
internal sealed class LimitGate(LimitPolicySource policies, IRateLimiter limiter, TokenCounter tokens, IOptions<RateLimitOptions> options)
{
    public bool Enabled => options.Value.Enabled;

    /// <summary>True when the request may go on; otherwise the refusal has been written.</summary>
    public async Task<bool> AdmitAsync(ProxyContext context)
    {
        if (!Enabled)
        {
            // Nothing to reserve: the prompt is counted later only if the upstream reports no usage.
            return true;
        }

        var body = context.Body.Span;
        var peek = context.Peek!;
        context.PromptTokens = context.Operation == ProxyOperation.Embeddings ? tokens.CountEmbeddingInput(body) : tokens.CountChatPrompt(body);

        var policy = await policies.GetAsync(context.Key!);
        if (policy is null)
        {
            await ProxyErrors.WriteAsync(context, 503, "The limits of this API key cannot be read right now. Please try again shortly.", "limits_unavailable");
            return false;
        }

        context.Policy = policy;
        var completion = context.Operation == ProxyOperation.Embeddings ? 0 : (long)(peek.MaxTokens ?? options.Value.DefaultMaxTokens) * peek.Choices;
        var decision = await limiter.AcquireAsync(policy, context.PromptTokens.Value + completion, context.Usage.RequestId);
        if (decision.Snapshot is { } snapshot)
        {
            RateLimitResponses.ApplyHeaders(context.Http.Response.Headers, snapshot);
        }

        if (decision.Admitted)
        {
            context.Lease = decision.Lease;
            return true;
        }

        await RateLimitResponses.RefuseAsync(context, decision);
        return false;
    }

    /// <summary>Sets the headers for a response that consumed nothing (a 400, the model list).</summary>
    public async Task ApplyHeadersAsync(HttpContext http, ResolvedApiKey key)
    {
        if (!Enabled || http.Response.HasStarted || await policies.GetAsync(key) is not { } policy)
        {
            return;
        }

        if (await limiter.PeekAsync(policy) is { } snapshot)
        {
            RateLimitResponses.ApplyHeaders(http.Response.Headers, snapshot);
        }
    }

    /// <summary>Frees the concurrency slot and corrects the reservation to what was used.</summary>
    public static ValueTask SettleAsync(ProxyContext context, UsageRecord record)
    {
        if (context.Lease is not { } lease)
        {
            return ValueTask.CompletedTask;
        }

        context.Lease = null;
        return lease.IssuedBy.SettleAsync(lease, record.TotalTokens);
    }
}
