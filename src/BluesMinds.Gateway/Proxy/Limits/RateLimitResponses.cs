using System.Globalization;
using System.Text;
using BluesMinds.Gateway.Hosting.Http;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>OpenAI's rate-limit headers and 429 bodies, with the same names, types and codes.</summary>
internal static class RateLimitResponses
{
    public static void ApplyHeaders(IHeaderDictionary headers, RateLimitSnapshot snapshot)
    {
        if (snapshot.RequestLimit > 0)
        {
            headers["x-ratelimit-limit-requests"] = snapshot.RequestLimit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = snapshot.RequestsRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Duration(snapshot.RequestsReset);
        }

        if (snapshot.TokenLimit > 0)
        {
            headers["x-ratelimit-limit-tokens"] = snapshot.TokenLimit.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-tokens"] = snapshot.TokensRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = Duration(snapshot.TokensReset);
        }
    }

    public static Task RefuseAsync(ProxyContext context, LimitDecision decision)
    {
        var scope = decision.RefusedBy?.Name == "key" ? "this API key" : "your account";
        var limits = decision.RefusedBy?.Limits ?? default;
        var retry = decision.RetryAfter;
        var wait = Duration(retry);
        var (status, type, code, message) = decision.Outcome switch
        {
            LimitOutcome.MonthlyQuota => (429, "insufficient_quota", "insufficient_quota",
                $"You exceeded the monthly token quota of {scope}: the quota is {limits.MonthlyTokens} tokens and this request, reserving {decision.RequestedTokens} (prompt plus max_tokens), does not fit in what remains. The quota resets at {context.Policy!.Period.End.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}."),
            LimitOutcome.RequestTooLarge => (429, "tokens", "rate_limit_exceeded",
                $"Request too large for the tokens per minute (TPM) limit of {scope}: limit {limits.TokensPerMinute}, requested {decision.RequestedTokens} (prompt plus max_tokens). Reduce the prompt or max_tokens."),
            LimitOutcome.RequestsPerMinute => (429, "requests", "rate_limit_exceeded",
                $"Rate limit reached for requests per minute (RPM) on {scope}: limit {limits.RequestsPerMinute}. Please try again in {wait}."),
            LimitOutcome.TokensPerMinute => (429, "tokens", "rate_limit_exceeded",
                $"Rate limit reached for tokens per minute (TPM) on {scope}: limit {limits.TokensPerMinute}, requested {decision.RequestedTokens}. Please try again in {wait}."),
            LimitOutcome.ConcurrentRequests => (429, "requests", "rate_limit_exceeded",
                $"Too many concurrent requests on {scope}: limit {limits.ConcurrentRequests}. Please try again when one of them has finished."),
            _ => (503, "server_error", "rate_limiter_unavailable",
                "The rate limiter is unavailable right now, so the request was not sent. Please try again shortly."),
        };

        // Retrying an oversized request can never succeed, so it gets no Retry-After.
        if (decision.Outcome != LimitOutcome.RequestTooLarge)
        {
            var headers = context.Http.Response.Headers;
            headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retry.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            headers["retry-after-ms"] = Math.Max(1, (long)Math.Ceiling(retry.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);
        }

        context.Usage.StatusCode = status;
        context.Usage.ErrorCode = code;
        return ApiErrors.WriteAsync(context.Http, status, code, message, code, openAiType: type);
    }

    /// <summary>OpenAI's duration format: <c>250ms</c>, <c>6s</c>, <c>1m30.5s</c>, <c>2h0m0s</c>.</summary>
    public static string Duration(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "0s";
        }

        // Whole milliseconds, rounded up once, in integers: no floating-point drift.
        var ms = (value.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
        if (ms < 1000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "ms";
        }

        var text = new StringBuilder();
        var hours = ms / 3_600_000;
        var minutes = ms / 60_000 % 60;
        if (hours > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{hours}h");
        }

        if (hours > 0 || minutes > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{minutes}m");
        }

        var seconds = ms % 60_000 / 1000m;
        text.Append(seconds.ToString("0.###", CultureInfo.InvariantCulture)).Append('s');
        return text.ToString();
    }
}
