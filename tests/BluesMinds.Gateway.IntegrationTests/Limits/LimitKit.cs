using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>What the limit tests share: gateways with either limiter, overrides, bodies and header readers.</summary>
internal static partial class LimitKit
{
    public const string EmbeddingModel = "text-embedding-3-small";

    public static readonly string[] RateLimitHeaders =
    [
        "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens",
    ];

    /// <summary>A gateway on a real socket whose upstream serves chat and embeddings.</summary>
    public static async Task<GatewayServer> StartAsync(GatewayApp app, FakeUpstream upstream)
    {
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(upstream, [GatewayServer.Model, EmbeddingModel]);
        return gateway;
    }

    public static Dictionary<string, string?> Settings(bool redis, params (string Key, string? Value)[] overrides)
    {
        var settings = GatewayServer.Settings(overrides);
        if (redis)
        {
            settings["REDIS_URL"] = TestEnvironmentVariables.RedisUrl;
        }

        return settings;
    }

    /// <summary>Inserts a <c>rate_limits</c> row straight into the database (before the key's first request: policies are cached).</summary>
    public static async Task SetLimitsAsync(
        TestDatabase database, string scope, Guid? userId = null, Guid? keyId = null, int? planId = null,
        int? rpm = null, int? tpm = null, int? concurrent = null, long? quota = null)
    {
        await using var db = database.OpenContext();
        db.RateLimits.Add(new RateLimit
        {
            Id = Guid.NewGuid(),
            Scope = scope,
            UserId = scope == RateLimitScopes.User ? userId : null,
            ApiKeyId = scope == RateLimitScopes.Key ? keyId : null,
            PlanId = scope == RateLimitScopes.Plan ? planId : null,
            RequestsPerMinute = rpm,
            TokensPerMinute = tpm,
            ConcurrentRequests = concurrent,
            MonthlyTokenQuota = quota,
            CreatedAt = DateTime.UtcNow,
            UpdatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
    }

    public static Task SetUserLimitsAsync(TestDatabase database, Guid userId, int? rpm = null, int? tpm = null, int? concurrent = null, long? quota = null) =>
        SetLimitsAsync(database, RateLimitScopes.User, userId: userId, rpm: rpm, tpm: tpm, concurrent: concurrent, quota: quota);

    /// <summary>A fresh key of the gateway's customer (no cached policy yet).</summary>
    public static async Task<(Guid Id, HttpClient Client)> NewKeyAsync(GatewayServer gateway, string name = "limits")
    {
        var (id, key) = await CreateKeyAsync(gateway.User.Client, extra: new { name });
        return (id, gateway.CreateKeyClient(key));
    }

    /// <summary>The default chat body with an explicit <c>max_tokens</c> (and <c>n</c> when given).</summary>
    public static string ChatBody(int? maxTokens = null, bool stream = false, int? n = null, string model = GatewayServer.Model)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = model,
            ["messages"] = new[] { new { role = "user", content = "Say hello" } },
            ["stream"] = stream,
        };
        if (maxTokens is not null)
        {
            body["max_tokens"] = maxTokens;
        }

        if (n is not null)
        {
            body["n"] = n;
        }

        return JsonSerializer.Serialize(body);
    }

    public static string EmbeddingBody(string input = "The quick brown fox") =>
        JsonSerializer.Serialize(new { model = EmbeddingModel, input });

    public static Task<HttpResponseMessage> PostAsync(HttpClient client, string body, string path = "/api/v1/chat/completions") =>
        client.PostAsync(Url(path), GatewayServer.JsonContent(body));

    /// <summary>Starts a streamed completion and returns once its headers arrived (the body keeps coming).</summary>
    public static async Task<HttpResponseMessage> StartStreamAsync(HttpClient client, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = GatewayServer.JsonContent(body) };
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Sends a streamed completion and reads it to its end; returns the status and the headers.</summary>
    public static async Task<HttpResponseMessage> StreamToEndAsync(HttpClient client, string body)
    {
        var response = await StartStreamAsync(client, body);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.Single() : null;

    public static long LongHeader(HttpResponseMessage response, string name) =>
        long.Parse(Header(response, name) ?? throw new Xunit.Sdk.XunitException($"no {name} header on a {(int)response.StatusCode}"), CultureInfo.InvariantCulture);

    public static string Describe(HttpResponseMessage response)
    {
        var headers = string.Join(", ", response.Headers.Where(h => h.Key.StartsWith("x-ratelimit", StringComparison.OrdinalIgnoreCase) || h.Key.StartsWith("retry-after", StringComparison.OrdinalIgnoreCase))
            .Select(h => $"{h.Key}={string.Join("|", h.Value)}"));
        return $"{(int)response.StatusCode} [{headers}]";
    }

    /// <summary>OpenAI's duration format: <c>250ms</c>, <c>6s</c>, <c>5.99s</c>, <c>1m0s</c>, <c>2h0m0s</c>.</summary>
    [GeneratedRegex(@"^(?:\d+ms|(?:(?:\d+h)?\d+m)?\d+(?:\.\d{1,3})?s)$")]
    public static partial Regex DurationFormat();

    /// <summary>Parses OpenAI's duration format.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        Assert.Matches(DurationFormat(), text);
        if (text.EndsWith("ms", StringComparison.Ordinal))
        {
            return TimeSpan.FromMilliseconds(double.Parse(text[..^2], CultureInfo.InvariantCulture));
        }

        var match = Regex.Match(text, @"^(?:(\d+)h)?(?:(\d+)m)?([\d.]+)s$");
        var hours = match.Groups[1].Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        var minutes = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
        var seconds = double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture);
        return TimeSpan.FromHours(hours) + TimeSpan.FromMinutes(minutes) + TimeSpan.FromSeconds(seconds);
    }

    /// <summary>
    /// Asserts OpenAI's 429 body exactly: <c>{"error":{"message","type","param":null,"code"}}</c> and
    /// nothing else; returns the message.
    /// </summary>
    public static async Task<string> AssertRefusalAsync(HttpResponseMessage response, string type, string code, bool retryAfter = true, HttpStatusCode status = HttpStatusCode.TooManyRequests)
    {
        var text = await response.Content.ReadAsStringAsync();
        var what = $"{Describe(response)} {text}";
        Assert.True(response.StatusCode == status, $"Expected {(int)status}: {what}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        Assert.Equal(["error"], root.EnumerateObject().Select(p => p.Name).ToArray());
        var error = root.GetProperty("error");
        Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.True(error.GetProperty("type").GetString() == type, $"Expected type {type}: {what}");
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.True(error.GetProperty("code").GetString() == code, $"Expected code {code}: {what}");
        if (retryAfter)
        {
            var seconds = Header(response, "Retry-After");
            Assert.True(seconds is not null && Regex.IsMatch(seconds, @"^\d+$") && long.Parse(seconds, CultureInfo.InvariantCulture) >= 1, $"Retry-After must be whole seconds ≥ 1: {what}");
            var ms = LongHeader(response, "retry-after-ms");
            Assert.True(ms >= 1, what);
            Assert.True((long)Math.Ceiling(ms / 1000.0) == long.Parse(seconds, CultureInfo.InvariantCulture), $"Retry-After and retry-after-ms disagree: {what}");
        }
        else
        {
            Assert.True(Header(response, "Retry-After") is null && Header(response, "retry-after-ms") is null, $"Expected no Retry-After: {what}");
        }

        return error.GetProperty("message").GetString()!;
    }

    /// <summary>
    /// What one request of <paramref name="body"/> reserves (prompt tokens counted by the gateway plus
    /// max_tokens × n), read from the token headers of a throw-away user with a large tokens-per-minute limit.
    /// </summary>
    public static async Task<long> MeasureReservationAsync(GatewayServer gateway, string body)
    {
        const int Limit = 1_000_000;
        var user = await SignUpUserAsync(gateway.App);
        await SetUserLimitsAsync(gateway.App.Database, user.Id, rpm: 0, tpm: Limit, concurrent: 0, quota: 0);
        var (_, key) = await CreateKeyAsync(user.Client, extra: new { name = "calibration" });
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = GatewayServer.JsonContent(body) };
        var response = await gateway.CreateKeyClient(key).SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"calibration: {Describe(response)}");
        return Limit - LongHeader(response, "x-ratelimit-remaining-tokens");
    }

    /// <summary>Polls until the usage row of <paramref name="requestId"/> is written.</summary>
    public static async Task<UsageLog> UsageRowAsync(TestDatabase database, string requestId)
    {
        for (var i = 0; i < 100; i++)
        {
            await using var db = database.OpenContext();
            if (await db.UsageLogs.AsNoTracking().SingleOrDefaultAsync(u => u.RequestId == requestId) is { } row)
            {
                return row;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no usage row for {requestId}");
    }

    public static string RequestId(HttpResponseMessage response) => response.Headers.GetValues("X-Request-Id").Single();

    public static HttpClient WithKey(HttpClient client, string key)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Polls <paramref name="probe"/> until <paramref name="done"/> holds; returns the last response.</summary>
    public static Task<HttpResponseMessage> PollAsync(Func<Task<HttpResponseMessage>> probe, Func<HttpResponseMessage, bool> done, TimeSpan timeout, int delayMs = 100) =>
        PollAsync(probe, r => Task.FromResult(done(r)), timeout, delayMs);

    /// <summary>Polls <paramref name="probe"/> until <paramref name="done"/> holds; returns the last response.</summary>
    public static async Task<HttpResponseMessage> PollAsync(Func<Task<HttpResponseMessage>> probe, Func<HttpResponseMessage, Task<bool>> done, TimeSpan timeout, int delayMs = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await probe();
            await response.Content.LoadIntoBufferAsync();
            if (await done(response) || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(delayMs);
        }
    }
}
