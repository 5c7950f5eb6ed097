using System.Globalization;
using BluesMinds.Gateway.Hosting.Http;

namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>OpenAI's rate-limit headers and 429 bodies, with the same names, types and codes.</summary>
internal static class RateLimitResponses
{
    public static void ApplyHeaders(IHeaderDictionary headers, RateLimitSnapshot snapshot)
    {
        if (snapshot.RequestLimit > 0)
        {
            headers["x-ratelimit-limit-requests"] = RequestLimitText.Format(snapshot.RequestLimit);
            headers["x-ratelimit-remaining-requests"] = snapshot.RequestsRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = Duration(snapshot.RequestsReset);
        }

        if (snapshot.TokenLimit > 0)
        {
            headers["x-ratelimit-limit-tokens"] = TokenLimitText.Format(snapshot.TokenLimit);
            headers["x-ratelimit-remaining-tokens"] = snapshot.TokensRemaining.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-tokens"] = Duration(snapshot.TokensReset);
        }
    }

    // A limit is the same on almost every response: its text is kept rather than formatted each time.
    private static readonly LastNumber RequestLimitText = new();
    private static readonly LastNumber TokenLimitText = new();

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

        // Whole milliseconds, rounded up once, in integers: no floating-point drift, and no overflow
        // near TimeSpan.MaxValue. Written into one stack buffer (at most ~30 characters), so a header
        // costs one string.
        var ms = (value.Ticks / TimeSpan.TicksPerMillisecond) + (value.Ticks % TimeSpan.TicksPerMillisecond > 0 ? 1 : 0);
        Span<char> text = stackalloc char[48];
        var written = 0;
        if (ms < 1000)
        {
            Append(text, ref written, ms, "ms");
            return new string(text[..written]);
        }

        var hours = ms / 3_600_000;
        var minutes = ms / 60_000 % 60;
        if (hours > 0)
        {
            Append(text, ref written, hours, "h");
        }

        if (hours > 0 || minutes > 0)
        {
            Append(text, ref written, minutes, "m");
        }

        (ms % 60_000 / 1000m).TryFormat(text[written..], out var digits, "0.###", CultureInfo.InvariantCulture);
        written += digits;
        text[written++] = 's';
        return new string(text[..written]);
    }

    private static void Append(Span<char> text, ref int written, long number, string unit)
    {
        number.TryFormat(text[written..], out var digits, provider: CultureInfo.InvariantCulture);
        written += digits;
        unit.CopyTo(text[written..]);
        written += unit.Length;
    }

    /// <summary>The text of the last number formatted, reused while the number stays the same.</summary>
    private sealed class LastNumber
    {
        private Entry _last = new(0, "0");

        public string Format(long value)
        {
            var last = Volatile.Read(ref _last);
            if (last.Value == value)
            {
                return last.Text;
            }

            var text = value.ToString(CultureInfo.InvariantCulture);
            Volatile.Write(ref _last, new Entry(value, text));
            return text;
        }

        private sealed record Entry(long Value, string Text);
    }
}
