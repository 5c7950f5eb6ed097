using BluesMinds.Gateway.Hosting.Http;

namespace BluesMinds.Gateway.Tests.Hosting;

public sealed class RequestIdTests
{
    [Fact]
    public void AnId_IsReqThenTheMillisecondsInHexThen96RandomBits()
    {
        var id = RequestIdMiddleware.NewId(0x0123_4567_89ab);

        Assert.Matches("^req_0123456789ab[A-Za-z0-9_-]{16}$", id);
    }

    [Fact]
    public void IdsOfLaterMilliseconds_SortAfterEarlierOnes_Ordinally()
    {
        var now = DateTimeOffset.Parse("2026-11-26T06:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        var ids = Enumerable.Range(0, 2_000).Select(i => RequestIdMiddleware.NewId(now + (i * 7))).ToList();

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void IdsOfTheSameMillisecond_AreStillUnique()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => RequestIdMiddleware.NewId(1_700_000_000_000)).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(10_000, ids.Count);
    }

    [Fact]
    public void TheTimePart_IsTheCurrentTime()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var id = RequestIdMiddleware.NewId();
        var after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var time = Convert.ToInt64(id[4..16], 16);
        Assert.InRange(time, before, after);
    }
}
