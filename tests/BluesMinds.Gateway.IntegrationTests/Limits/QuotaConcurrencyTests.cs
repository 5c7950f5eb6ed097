using System.Net;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary>The reservation is one atomic check-and-take: parallel requests never overspend a quota.</summary>
public sealed class QuotaConcurrencyTests
{
    private const int MaxTokens = 20;
    private const int Fits = 7;
    private const int Parallel = 60;

    /// <param name="redis">Redis (else the in-process limiter).</param>
    /// <param name="justUnder">The quota is K reservations plus one less than another (else exactly K: the boundary is admitted).</param>
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public async Task ParallelRequests_AgainstASmallQuota_AdmitExactlyWhatFits(bool redis, bool justUnder)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis));
        var gateway = await StartAsync(app, upstream);
        var body = ChatBody(MaxTokens, stream: true);
        var reservation = await MeasureReservationAsync(gateway, body);

        // Each stream reports 5 prompt tokens plus one per chunk, so with reservation − 5 chunks its
        // real usage equals its reservation: settling refunds nothing, and exactly K reservations fit
        // whatever the timing. The chunks are slow, so every request overlaps the admitted ones.
        upstream.StreamSlowly((int)reservation - 5, TimeSpan.FromMilliseconds(40));
        var quota = (Fits * reservation) + (justUnder ? reservation - 1 : 0);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 0, tpm: 0, concurrent: 0, quota: quota);
        var (_, client) = await NewKeyAsync(gateway);

        using var start = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, Parallel).Select(async _ =>
        {
            await start.WaitAsync();
            var response = await StreamToEndAsync(client, body);
            return (response, text: await response.Content.ReadAsStringAsync());
        }).ToList();
        start.Release(Parallel);
        var results = await Task.WhenAll(requests);

        var admitted = results.Where(r => r.response.StatusCode == HttpStatusCode.OK).ToList();
        var refused = results.Where(r => r.response.StatusCode != HttpStatusCode.OK).ToList();
        var summary = $"reservation {reservation}, quota {quota}: " + string.Join(", ", results.GroupBy(r => r.response.StatusCode).Select(g => $"{(int)g.Key}×{g.Count()}"));
        Assert.True(admitted.Count == Fits, summary);
        Assert.All(admitted, r => Assert.Contains("[DONE]", r.text, StringComparison.Ordinal));
        foreach (var (response, _) in refused)
        {
            var message = await AssertRefusalAsync(response, "insufficient_quota", "insufficient_quota");
            Assert.Contains($"the quota is {quota} tokens", message, StringComparison.Ordinal);
        }

        Assert.Equal(Fits + 1, upstream.ChatCount); // and the calibration

        // The counter settled to the real usage, which equals what was reserved: still nothing fits.
        var after = await PostAsync(client, ChatBody(MaxTokens));
        await AssertRefusalAsync(after, "insufficient_quota", "insufficient_quota");
    }
}
