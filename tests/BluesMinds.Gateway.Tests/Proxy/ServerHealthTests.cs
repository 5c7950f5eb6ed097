using BluesMinds.Gateway.Proxy.ModelRouting;

namespace BluesMinds.Gateway.Tests.Proxy;

public sealed class ServerHealthTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(30);

    [Fact]
    public void RecordFailure_BelowThreshold_KeepsTheServerIn()
    {
        var health = new ServerHealth();

        for (var i = 0; i < 4; i++)
        {
            health.RecordFailure(Now, threshold: 5, Break);
        }

        Assert.Equal(CircuitState.Closed, health.Circuit);
        Assert.True(health.TryAcquire(Now));
    }

    [Fact]
    public void RecordFailure_AtThreshold_OpensUntilTheBreakEndsThenLetsOneProbeThrough()
    {
        var health = new ServerHealth();
        for (var i = 0; i < 5; i++)
        {
            health.RecordFailure(Now, threshold: 5, Break);
        }

        Assert.Equal(CircuitState.Open, health.Circuit);
        Assert.False(health.TryAcquire(Now.AddSeconds(29)));
        Assert.True(health.TryAcquire(Now.AddSeconds(30)));
        Assert.Equal(CircuitState.HalfOpen, health.Circuit);
        Assert.False(health.TryAcquire(Now.AddSeconds(30)));
    }

    [Fact]
    public void Probe_Success_ClosesAndFailure_ReopensAtOnce()
    {
        var recovered = Opened();
        Assert.True(recovered.TryAcquire(Now.AddSeconds(31)));
        recovered.RecordSuccess();

        var stillBroken = Opened();
        Assert.True(stillBroken.TryAcquire(Now.AddSeconds(31)));
        stillBroken.RecordFailure(Now.AddSeconds(31), threshold: 5, Break);

        Assert.Equal(CircuitState.Closed, recovered.Circuit);
        Assert.Equal(0, recovered.ConsecutiveFailures);
        Assert.Equal(CircuitState.Open, stillBroken.Circuit);
        Assert.False(stillBroken.TryAcquire(Now.AddSeconds(32)));
    }

    [Fact]
    public void RecordFailure_WithRetryAfter_HoldsTheServerForThatLong()
    {
        var health = new ServerHealth();

        health.RecordFailure(Now, threshold: 5, Break, retryAfter: TimeSpan.FromSeconds(2));

        Assert.False(health.TryAcquire(Now.AddSeconds(1)));
        Assert.True(health.TryAcquire(Now.AddSeconds(2)));
    }

    [Fact]
    public void FailedActiveCheck_TakesTheServerOutUntilACheckPasses()
    {
        var health = new ServerHealth();

        health.RecordCheck(healthy: false, Now, 12, "HTTP 500");
        var whileDown = health.IsAvailable(Now);
        health.RecordCheck(healthy: true, Now.AddSeconds(15), 8, null);

        Assert.False(whileDown);
        Assert.True(health.IsAvailable(Now.AddSeconds(15)));
    }

    private static ServerHealth Opened()
    {
        var health = new ServerHealth();
        for (var i = 0; i < 5; i++)
        {
            health.RecordFailure(Now, threshold: 5, Break);
        }

        return health;
    }
}
