using System.Globalization;
using System.Net;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>OpenAI's <c>x-ratelimit-*</c> headers on every answer to a known key, and OpenAI's 429 bodies for each limit.</summary>
public sealed class RateLimitHeaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EveryAnswer_CarriesTheSixHeaders_WithRemainingCountingDown(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var reservation = await MeasureReservationAsync(gateway, ChatBody(100));
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 10, tpm: 6000, concurrent: 0, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);

        var chat1 = await PostAsync(client, ChatBody(100));
        var chat2 = await PostAsync(client, ChatBody(100));
        var embeddings = await PostAsync(client, EmbeddingBody(), "/api/v1/embeddings");
        var models = await client.GetAsync(Url("/api/v1/models"));
        var invalid = await PostAsync(client, "{\"model\": \"gpt-4o-mini\", \"messages\": [");

        foreach (var (name, response, status) in new[]
        {
            ("chat 1", chat1, HttpStatusCode.OK), ("chat 2", chat2, HttpStatusCode.OK), ("embeddings", embeddings, HttpStatusCode.OK),
            ("models", models, HttpStatusCode.OK), ("invalid JSON", invalid, HttpStatusCode.BadRequest),
        })
        {
            Assert.True(response.StatusCode == status, $"{name}: {Describe(response)} {await response.Content.ReadAsStringAsync()}");
            foreach (var header in RateLimitHeaders)
            {
                Assert.True(Header(response, header) is not null, $"{name} lacks {header}: {Describe(response)}");
            }

            Assert.Equal("10", Header(response, "x-ratelimit-limit-requests"));
            Assert.Equal("6000", Header(response, "x-ratelimit-limit-tokens"));
            var requestsReset = ParseDuration(Header(response, "x-ratelimit-reset-requests")!);
            var tokensReset = ParseDuration(Header(response, "x-ratelimit-reset-tokens")!);
            Assert.InRange(requestsReset, TimeSpan.Zero, TimeSpan.FromSeconds(60));
            Assert.InRange(tokensReset, TimeSpan.Zero, TimeSpan.FromSeconds(60));
        }

        // One request each, refilling 10 per minute: 9, 8, 7; the model list and a 400 take nothing.
        Assert.Equal(
            ["9", "8", "7", "7", "7"],
            new[] { chat1, chat2, embeddings, models, invalid }.Select(r => Header(r, "x-ratelimit-remaining-requests")).ToArray());

        // A full bucket of 10 less one request refills in 6 s; OpenAI's format.
        var reset = ParseDuration(Header(chat1, "x-ratelimit-reset-requests")!);
        Assert.InRange(reset, TimeSpan.FromSeconds(5.5), TimeSpan.FromSeconds(6));
        Assert.Matches(@"^(6s|5\.\d{1,3}s)$", Header(chat1, "x-ratelimit-reset-requests")!);

        // The first chat took its whole reservation from a full bucket of 6000 (100 tokens a second refill).
        Assert.Equal(6000 - reservation, LongHeader(chat1, "x-ratelimit-remaining-tokens"));
        Assert.InRange(ParseDuration(Header(chat1, "x-ratelimit-reset-tokens")!).TotalMilliseconds, (reservation * 10) - 1, (reservation * 10) + 1);
        Assert.EndsWith("s", Header(chat1, "x-ratelimit-reset-tokens")!, StringComparison.Ordinal);
        Assert.InRange(LongHeader(chat2, "x-ratelimit-remaining-tokens"), 6000 - (2 * reservation), 6000 - reservation);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ErrorAnswers_ToAKnownKey_CarryTheHeadersToo(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis, ("MAX_REQUEST_BODY_BYTES", "2048")));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 50, tpm: 50_000);
        var (_, client) = await NewKeyAsync(gateway);
        var (_, restricted) = await CreateKeyAsync(gateway.User.Client, extra: new { name = "embeddings only", allowed_models = new[] { EmbeddingModel } });
        var large = ChatBody(10).Replace("Say hello", new string('x', 4096), StringComparison.Ordinal);

        var notAllowed = await PostAsync(gateway.CreateKeyClient(restricted), ChatBody(10));
        var unknownModel = await PostAsync(client, ChatBody(10, model: "no-such-model"));
        using var chunked = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = GatewayServer.JsonContent(large) };
        chunked.Headers.TransferEncodingChunked = true;
        var chunkedTooLarge = await client.SendAsync(chunked);
        upstream.RespondWithStatus(500);
        var upstreamFailed = await PostAsync(client, ChatBody(10));

        foreach (var (name, response, status) in new[]
        {
            ("403 model not allowed", notAllowed, HttpStatusCode.Forbidden), ("404 unknown model", unknownModel, HttpStatusCode.NotFound),
            ("413 chunked", chunkedTooLarge, HttpStatusCode.RequestEntityTooLarge), ("502 upstream failed", upstreamFailed, HttpStatusCode.BadGateway),
        })
        {
            Assert.True(response.StatusCode == status, $"{name}: {Describe(response)} {await response.Content.ReadAsStringAsync()}");
            Assert.True(RateLimitHeaders.All(h => Header(response, h) is not null), $"{name} lacks headers: {Describe(response)}");
            Assert.Equal("50", Header(response, "x-ratelimit-limit-requests"));
            Assert.Equal("50000", Header(response, "x-ratelimit-limit-tokens"));
        }
    }

    [Fact]
    public async Task DeclaredOversizedBody_ToAKnownKey_CarriesTheHeaders()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: false, ("MAX_REQUEST_BODY_BYTES", "2048")));
        var gateway = await StartAsync(app, upstream);
        var (_, client) = await NewKeyAsync(gateway);
        var large = ChatBody(10).Replace("Say hello", new string('x', 4096), StringComparison.Ordinal);

        // Content-Length is declared (the usual case): API.md promises the headers on every /api/v1 answer to a known key.
        var response = await PostAsync(client, large);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.True(RateLimitHeaders.All(h => Header(response, h) is not null), $"413 lacks headers: {Describe(response)}");
    }

    [Fact]
    public async Task Duration_UsesOpenAisFormat_ForMillisecondsSecondsAndMinutes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis: false));
        var gateway = await StartAsync(app, upstream);
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1));

        // 1 request per minute: a taken request comes back in one minute: "1m0s".
        // 60 000 tokens per minute (1 per ms): a small reservation comes back in milliseconds.
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 1, tpm: 60_000, concurrent: 0, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);

        var response = await PostAsync(client, ChatBody(1));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches(@"^(1m0s|59\.\d{1,3}s)$", Header(response, "x-ratelimit-reset-requests")!);
        Assert.Equal($"{reservation}ms", Header(response, "x-ratelimit-reset-tokens"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RequestsPerMinute_Exceeded_Answers429Requests_WithRetryAfter(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 2);
        var (_, client) = await NewKeyAsync(gateway);

        var ok = new[] { await PostAsync(client, ChatBody(10)), await PostAsync(client, ChatBody(10)) };
        var refused = await PostAsync(client, ChatBody(10));

        Assert.All(ok, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var message = await AssertRefusalAsync(refused, "requests", "rate_limit_exceeded");
        Assert.Contains("requests per minute (RPM)", message, StringComparison.Ordinal);
        Assert.Contains("limit 2", message, StringComparison.Ordinal);
        Assert.Contains("your account", message, StringComparison.Ordinal);

        // One request refills in 30 s; the message says when, in OpenAI's format, as Retry-After does.
        var wait = System.Text.RegularExpressions.Regex.Match(message, @"try again in (\S+)\.$");
        Assert.True(wait.Success, message);
        var retry = ParseDuration(wait.Groups[1].Value);
        Assert.InRange(retry, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Equal((long)Math.Ceiling(retry.TotalSeconds), LongHeader(refused, "Retry-After"));
        Assert.Equal("2", Header(refused, "x-ratelimit-limit-requests"));
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.Equal(2, upstream.ChatCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TokensPerMinute_Exceeded_Answers429Tokens_WithTheWait(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        const int Tpm = 3000;
        var reservation = await MeasureReservationAsync(gateway, ChatBody(2000));
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: Tpm, concurrent: 0);
        var (_, client) = await NewKeyAsync(gateway);

        // The first reservation (about 2000) is held by a slow stream; a second one does not fit in what remains.
        upstream.StreamSlowly(10, TimeSpan.FromMilliseconds(200));
        using var first = await StartStreamAsync(client, ChatBody(2000, stream: true));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var refused = await PostAsync(client, ChatBody(2000));

        var message = await AssertRefusalAsync(refused, "tokens", "rate_limit_exceeded");
        Assert.Contains("tokens per minute (TPM)", message, StringComparison.Ordinal);
        Assert.Contains($"limit {Tpm}", message, StringComparison.Ordinal);
        Assert.Contains($"requested {reservation}", message, StringComparison.Ordinal);
        Assert.Matches(@"Please try again in \S+s\.$", message);

        // The missing tokens come back at 50 a second.
        var expected = (2 * reservation - Tpm) * 60.0 / Tpm;
        Assert.InRange(LongHeader(refused, "Retry-After"), (long)Math.Floor(expected) - 1, (long)Math.Ceiling(expected));
        Assert.InRange(LongHeader(refused, "x-ratelimit-remaining-tokens"), Tpm - reservation, Tpm - reservation + 50);
        Assert.Equal(2, upstream.ChatCount); // the calibration and the stream
        await first.Content.LoadIntoBufferAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReservationLargerThanTokensPerMinute_Answers429Tokens_WithoutRetryAfter(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1000));
        await SetUserLimitsAsync(database, gateway.User.Id, tpm: 500);
        var (_, client) = await NewKeyAsync(gateway);

        var refused = await PostAsync(client, ChatBody(1000));
        var fits = await PostAsync(client, ChatBody(100));

        var message = await AssertRefusalAsync(refused, "tokens", "rate_limit_exceeded", retryAfter: false);
        Assert.Contains("Request too large", message, StringComparison.Ordinal);
        Assert.Contains("limit 500", message, StringComparison.Ordinal);
        Assert.Contains($"requested {reservation}", message, StringComparison.Ordinal);
        Assert.Equal("500", Header(refused, "x-ratelimit-limit-tokens"));
        Assert.Equal("500", Header(refused, "x-ratelimit-remaining-tokens"));
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        Assert.Equal(2, upstream.ChatCount); // the calibration and the one that fits
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConcurrentRequests_Exceeded_Answers429_UntilTheRunningOneEnds(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, concurrent: 1);
        var (_, client) = await NewKeyAsync(gateway);

        upstream.StreamSlowly(8, TimeSpan.FromMilliseconds(150));
        using var running = await StartStreamAsync(client, ChatBody(50, stream: true));
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        var refused = await PostAsync(client, ChatBody(50));
        var refusedEmbedding = await PostAsync(client, EmbeddingBody(), "/api/v1/embeddings");

        var message = await AssertRefusalAsync(refused, "requests", "rate_limit_exceeded");
        Assert.Contains("concurrent requests", message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("limit 1", message, StringComparison.Ordinal);
        Assert.Equal("1", Header(refused, "Retry-After"));
        await AssertRefusalAsync(refusedEmbedding, "requests", "rate_limit_exceeded");

        var events = await OpenAiWire.ReadAllEventsAsync(running);
        Assert.Equal("[DONE]", events[^1]);
        upstream.RespondNormally();
        var after = await PollAsync(() => PostAsync(client, ChatBody(50)), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(2));
        Assert.True(after.StatusCode == HttpStatusCode.OK, $"the slot was not freed: {Describe(after)} {await after.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MonthlyQuota_Exhausted_Answers429InsufficientQuota_UntilTheFirstOfNextMonth(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);

        // A customer the limiter has never seen, with prior usage this month in the rollups: the
        // counter is seeded from them when the account is first seen.
        var customer = await SignUpUserAsync(app);
        await SetUserLimitsAsync(database, customer.Id, quota: 1000);
        var (keyId, key) = await CreateKeyAsync(customer.Client);
        var client = gateway.CreateKeyClient(key);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        await using (var db = database.OpenContext())
        {
            db.UsageDaily.Add(new UsageDaily { UserId = customer.Id, ApiKeyId = keyId, Model = GatewayServer.Model, Day = today, Requests = 3, TotalTokens = 990 });
            await db.SaveChangesAsync();
        }

        var refused = await PostAsync(client, ChatBody(50));

        var message = await AssertRefusalAsync(refused, "insufficient_quota", "insufficient_quota");
        var now = DateTimeOffset.UtcNow;
        var nextMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
        Assert.Contains("monthly token quota", message, StringComparison.Ordinal);
        Assert.Contains("the quota is 1000 tokens", message, StringComparison.Ordinal);
        Assert.Contains(nextMonth.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), message, StringComparison.Ordinal);
        var retryAfter = LongHeader(refused, "Retry-After");
        Assert.InRange(retryAfter, (long)(nextMonth - now).TotalSeconds - 30, (long)(nextMonth - now).TotalSeconds + 30);
        Assert.Equal(0, upstream.ChatCount);

        // 10 tokens are left: no chat fits (its overhead alone is more), a one-token embedding does.
        var embedding = await PostAsync(client, EmbeddingBody("hi"), "/api/v1/embeddings");
        Assert.True(embedding.StatusCode == HttpStatusCode.OK, $"{Describe(embedding)} {await embedding.Content.ReadAsStringAsync()}");
    }
}
