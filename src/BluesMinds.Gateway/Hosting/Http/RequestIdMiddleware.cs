using System.Buffers.Text;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Gives every request a server-generated id: in <c>X-Request-Id</c>, in <see cref="HttpContext.TraceIdentifier"/>
/// and in the log scope. A client-sent <c>X-Request-Id</c> is not trusted, because usage records are
/// idempotent on this id and a reused id must never make a record disappear.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, ILogger<RequestIdMiddleware> logger)
{
    public const string HeaderName = "X-Request-Id";

    public Task InvokeAsync(HttpContext context)
    {
        var id = NewId();
        context.TraceIdentifier = id;
        context.Response.OnStarting(static state =>
        {
            var c = (HttpContext)state;
            c.Response.Headers[HeaderName] = c.TraceIdentifier;
            return Task.CompletedTask;
        }, context);
        using (logger.BeginScope(new RequestIdScope(id)))
        {
            return next(context);
        }
    }

    /// <summary>
    /// <c>req_</c>, the time in milliseconds as 12 hex digits, then 96 random bits, URL-safe. Ids that
    /// sort by time keep inserts into the unique index on <c>usage_logs.request_id</c> at its end;
    /// random ids made every batch rewrite pages all over that index.
    /// </summary>
    public static string NewId() => NewId(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    internal static string NewId(long unixMilliseconds) => string.Create(32, unixMilliseconds, static (chars, time) =>
    {
        "req_".CopyTo(chars);
        for (var i = 15; i >= 4; i--, time >>= 4)
        {
            chars[i] = "0123456789abcdef"[(int)(time & 0xF)];
        }

        // Random.Shared, not the OS generator: an id grants nothing, so only its uniqueness matters,
        // and a call into OpenSSL per request cost more than the rest of this middleware.
        Span<byte> random = stackalloc byte[12];
        Random.Shared.NextBytes(random);
        Base64Url.EncodeToChars(random, chars[16..]);
    });

    /// <summary>A one-property scope that loggers render as <c>RequestId</c>.</summary>
    private sealed class RequestIdScope(string id) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] =>
            index == 0 ? new("RequestId", id) : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => "RequestId:" + id;
    }
}
