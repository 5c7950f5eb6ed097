using System.Net;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>A reservation is corrected to the upstream's real usage when the response ends.</summary>
public sealed class SettlementTests
{
    private const int RealUsage = 12;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OverReservedRequest_IsRefunded_BeforeTheNextOne(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        const int Tpm = 6000;
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1000));
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: Tpm, concurrent: 0, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);

        var first = await PostAsync(client, ChatBody(1000));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(Tpm - reservation, LongHeader(first, "x-ratelimit-remaining-tokens"));

        // The model list reports the bucket without taking from it; wait there until the first
        // request was settled (the client can read a whole JSON answer a moment before that).
        var peek = await PollAsync(
            () => client.GetAsync(Url("/api/v1/models")),
            r => LongHeader(r, "x-ratelimit-remaining-tokens") >= Tpm - RealUsage,
            TimeSpan.FromSeconds(2));
        Assert.InRange(LongHeader(peek, "x-ratelimit-remaining-tokens"), Tpm - RealUsage, Tpm);
        var second = await PostAsync(client, ChatBody(1000));

        // Refunded: limit − 12 − reservation (plus a little refill, never past the limit);
        // not limit − 2 × reservation as without settlement.
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.InRange(LongHeader(second, "x-ratelimit-remaining-tokens"), Tpm - RealUsage - reservation, Tpm - reservation);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MonthlyQuota_CountsRealUsage_NotReservations(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1000));

        // Each request reserves ~1009 and uses 12: with this quota the fifth no longer fits
        // (4 × 12 + reservation > quota) although five reservations would be far beyond it.
        const int Fitting = 4;
        var quota = reservation + ((Fitting - 1) * RealUsage) + 5;
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: 0, concurrent: 0, quota: quota);
        var (_, client) = await NewKeyAsync(gateway);

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage last = null!;
        for (var i = 0; i < Fitting + 2; i++)
        {
            last = await PostAsync(client, ChatBody(1000));
            statuses.Add(last.StatusCode);
            if (last.StatusCode != HttpStatusCode.OK)
            {
                break;
            }

            // Let the settlement land (see above) before the next reservation.
            await Task.Delay(150);
        }

        Assert.True(
            statuses.SequenceEqual([.. Enumerable.Repeat(HttpStatusCode.OK, Fitting), HttpStatusCode.TooManyRequests]),
            $"reservation {reservation}, quota {quota}: {string.Join(",", statuses.Select(s => (int)s))}");
        await AssertRefusalAsync(last, "insufficient_quota", "insufficient_quota");

        // An embedding reserves only its input, which still fits in what real usage left.
        var embedding = await PostAsync(client, EmbeddingBody("hi"), "/api/v1/embeddings");
        Assert.True(embedding.StatusCode == HttpStatusCode.OK, $"{Describe(embedding)} {await embedding.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReservationCounts_MaxTokensTimesN_AndTheDefaultWhenAbsent(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis, ("RATE_LIMIT_DEFAULT_MAX_TOKENS", "700")));
        var gateway = await StartAsync(app, upstream);
        var one = await MeasureReservationAsync(gateway, ChatBody(100));
        var prompt = one - 100;

        Assert.Equal(prompt + 300, await MeasureReservationAsync(gateway, ChatBody(100, n: 3)));
        Assert.Equal(prompt + 700, await MeasureReservationAsync(gateway, ChatBody()));
        Assert.Equal(prompt + 1400, await MeasureReservationAsync(gateway, ChatBody(n: 2)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FailedUpstream_RefundsTheWholeReservation_AndFreesTheSlot(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        const int Tpm = 6000;
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1000));

        // Room for exactly one reservation in the quota, one request at a time.
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: Tpm, concurrent: 1, quota: reservation);
        var (_, client) = await NewKeyAsync(gateway);
        upstream.RespondWithStatus(500);

        var failed = await PostAsync(client, ChatBody(1000));
        Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        var peek = await PollAsync(
            () => client.GetAsync(Url("/api/v1/models")),
            r => LongHeader(r, "x-ratelimit-remaining-tokens") == Tpm,
            TimeSpan.FromSeconds(2));
        Assert.Equal(Tpm, LongHeader(peek, "x-ratelimit-remaining-tokens"));

        // Nothing was used: the same reservation fits in the quota again, and the slot is free.
        upstream.RespondNormally();
        var retried = await PostAsync(client, ChatBody(1000));
        Assert.True(retried.StatusCode == HttpStatusCode.OK, $"{Describe(retried)} {await retried.Content.ReadAsStringAsync()}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ClientGoneMidStream_FreesTheSlot_AndSettles(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        const int Tpm = 6000;
        var reservation = await MeasureReservationAsync(gateway, ChatBody(1000));
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: Tpm, concurrent: 1, quota: 0);
        var (_, client) = await NewKeyAsync(gateway);
        upstream.StreamSlowly(30, TimeSpan.FromMilliseconds(100));

        using (var abandoned = await StartStreamAsync(client, ChatBody(1000, stream: true)))
        {
            Assert.Equal(HttpStatusCode.OK, abandoned.StatusCode);
            var seen = 0;
            await foreach (var _ in OpenAiWire.ReadEventsAsync(abandoned))
            {
                if (++seen == 2)
                {
                    break;
                }
            }
        }

        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(5)), "the upstream request was not aborted");
        upstream.RespondNormally();
        var next = await PollAsync(() => PostAsync(client, ChatBody(1000)), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(3), 200);

        // The slot is free and the abandoned stream was settled to its partial count, far below its reservation.
        Assert.True(next.StatusCode == HttpStatusCode.OK, $"the slot was not freed: {Describe(next)} {await next.Content.ReadAsStringAsync()}");
        Assert.InRange(LongHeader(next, "x-ratelimit-remaining-tokens"), Tpm - reservation - 200, Tpm - reservation);
    }
}
