using System.Diagnostics;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using BluesMinds.Gateway.Proxy.Forwarding;
using BluesMinds.Gateway.Proxy.Limits;
using BluesMinds.Gateway.Proxy.UsageAccounting;

namespace BluesMinds.Gateway.Proxy;

/// <summary>The state of one gateway request, handed from stage to stage.</summary>
internal sealed class ProxyContext(HttpContext http, ProxyOperation operation, UsageRecord usage)
{
    private readonly long _started = Stopwatch.GetTimestamp();

    public HttpContext Http { get; } = http;

    public ProxyOperation Operation { get; } = operation;

    public UsageRecord Usage { get; } = usage;

    public ResolvedApiKey? Key { get; set; }

    /// <summary>The request body as received (bounded by MAX_REQUEST_BODY_BYTES).</summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    public RequestPeek? Peek { get; set; }

    /// <summary>The prompt's tokens as counted here (input of embeddings), for the reservation and for estimates.</summary>
    public int? PromptTokens { get; set; }

    /// <summary>The limits that applied, once stage 3 has run.</summary>
    public LimitPolicy? Policy { get; set; }

    /// <summary>The reservation to settle when the request ends.</summary>
    public LimitLease? Lease { get; set; }

    /// <summary>The model name sent upstream (after alias mapping).</summary>
    public string? UpstreamModel { get; set; }

    public int ElapsedMs => (int)Stopwatch.GetElapsedTime(_started).TotalMilliseconds;
}
