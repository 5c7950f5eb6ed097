using BluesMinds.Gateway.Features.Accounts;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BluesMinds.Gateway.Tests.Features.Accounts;

public sealed class LoginThrottleTests
{
    private const string Victim = "victim@example.com";
    private const string Other = "other@example.com";
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan SlowDelay = TimeSpan.FromMilliseconds(500);

    private readonly FakeTimeProvider _time = new();
    private readonly LoginThrottle _throttle;

    public LoginThrottleTests()
    {
        _throttle = new LoginThrottle(
            Options.Create(new LoginThrottleOptions { AccountLimit = 3, IpLimit = 5, SlowAfter = 1, SlowDelayMilliseconds = 500, WindowMinutes = 15 }),
            _time);
    }

    [Fact]
    public void RetryAfter_NoFailures_IsNull()
    {
        Assert.Null(_throttle.RetryAfter(Victim, "10.0.0.1"));
    }

    [Fact]
    public void RetryAfter_BelowAccountLimit_IsNull()
    {
        _throttle.RecordFailure(Victim, "10.0.0.1");
        _throttle.RecordFailure(Victim, "10.0.0.2");

        Assert.Null(_throttle.RetryAfter(Victim, "10.0.0.1"));
        Assert.Null(_throttle.RetryAfter(Victim, "10.0.0.3"));
    }

    [Fact]
    public void RetryAfter_AccountLimitReachedFromOneIp_RefusesThatEmailFromAnyIp()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure(Victim, "10.0.0.1");
        }

        Assert.Equal(Window, _throttle.RetryAfter(Victim, "10.0.0.1"));
        Assert.Equal(Window, _throttle.RetryAfter(Victim, "192.0.2.7"));
        Assert.Equal(Window, _throttle.RetryAfter(Victim, null));
    }

    // Regression: RetryAfter compared the two nullable waits with a lifted ">", which is false when the IP wait
    // is null, so the account limit was ignored unless the IP limit applied too.
    [Fact]
    public void RetryAfter_AccountLimitReachedFromSeveralIps_RefusesThatEmailFromAnyIp()
    {
        _throttle.RecordFailure(Victim, "10.0.0.1");
        _throttle.RecordFailure(Victim, "10.0.0.2");
        _throttle.RecordFailure(Victim, "10.0.0.3");

        var wait = _throttle.RetryAfter(Victim, "10.0.0.4");

        Assert.NotNull(wait);
        Assert.True(wait > TimeSpan.Zero);
        Assert.True(wait <= Window);
    }

    [Fact]
    public void RetryAfter_AccountLimitReached_OtherEmailFromOtherIpIsNotRefused()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure(Victim, "10.0.0.1");
        }

        Assert.Null(_throttle.RetryAfter(Other, "10.0.0.2"));
    }

    [Fact]
    public void RetryAfter_AccountLimitReached_WaitShrinksAndEndsWithTheWindow()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure(Victim, $"10.0.0.{i}");
        }

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(TimeSpan.FromMinutes(5), _throttle.RetryAfter(Victim, "10.0.0.9"));

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(_throttle.RetryAfter(Victim, "10.0.0.9"));
    }

    [Fact]
    public void RetryAfter_IpLimitReached_RefusesAnyEmailFromThatIpOnly()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.RecordFailure($"user{i}@example.com", "10.0.0.1");
        }

        Assert.Equal(Window, _throttle.RetryAfter("new@example.com", "10.0.0.1"));
        Assert.Equal(Window, _throttle.RetryAfter(null, "10.0.0.1"));
        Assert.Null(_throttle.RetryAfter("new@example.com", "10.0.0.2"));
    }

    [Fact]
    public void RetryAfter_IpLimitReached_WaitShrinksAndEndsWithTheWindow()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.RecordFailure($"user{i}@example.com", "10.0.0.1");
        }

        _time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(TimeSpan.FromMinutes(1), _throttle.RetryAfter(Other, "10.0.0.1"));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(_throttle.RetryAfter(Other, "10.0.0.1"));
    }

    [Fact]
    public void RetryAfter_WindowMeasuredFromFirstFailure_NotFromLatest()
    {
        _throttle.RecordFailure("a@example.com", "10.0.0.1");
        _time.Advance(TimeSpan.FromMinutes(10));
        for (var i = 0; i < 4; i++)
        {
            _throttle.RecordFailure($"b{i}@example.com", "10.0.0.1");
        }

        Assert.Equal(TimeSpan.FromMinutes(5), _throttle.RetryAfter(Other, "10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_FailuresAfterWindow_StartANewCount()
    {
        for (var i = 0; i < 4; i++)
        {
            _throttle.RecordFailure($"user{i}@example.com", "10.0.0.1");
        }

        _time.Advance(Window);
        _throttle.RecordFailure("late@example.com", "10.0.0.1");

        Assert.Null(_throttle.RetryAfter(Other, "10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_UpToSlowAfter_IsZeroThenConfiguredDelay()
    {
        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(Victim, "10.0.0.1"));
        Assert.Equal(SlowDelay, _throttle.RecordFailure(Victim, "10.0.0.1"));
        Assert.Equal(SlowDelay, _throttle.RecordFailure(Victim, "10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_AccountFailuresFromDifferentIps_AreSlowed()
    {
        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(Victim, "10.0.0.1"));
        Assert.Equal(SlowDelay, _throttle.RecordFailure(Victim, "10.0.0.2"));
    }

    [Fact]
    public void RecordFailure_IpFailuresAcrossAccounts_AreSlowed()
    {
        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure("a@example.com", "10.0.0.1"));
        Assert.Equal(SlowDelay, _throttle.RecordFailure("b@example.com", "10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_AfterWindow_IsZeroAgain()
    {
        _throttle.RecordFailure(Victim, "10.0.0.1");
        _throttle.RecordFailure(Victim, "10.0.0.1");

        _time.Advance(Window);

        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(Victim, "10.0.0.1"));
    }

    [Fact]
    public void RecordSuccess_AfterFailures_ClearsTheAccountCount()
    {
        _throttle.RecordFailure(Victim, "10.0.0.1");
        _throttle.RecordFailure(Victim, "10.0.0.2");

        _throttle.RecordSuccess(Victim);

        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(Victim, "10.0.0.3"));
    }

    [Fact]
    public void RecordSuccess_AccountAtLimit_LiftsTheAccountRefusal()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure(Victim, $"10.0.0.{i}");
        }

        _throttle.RecordSuccess(Victim);

        Assert.Null(_throttle.RetryAfter(Victim, "10.0.0.9"));
    }

    [Fact]
    public void RecordSuccess_DoesNotClearTheIpCount()
    {
        _throttle.RecordFailure("a@example.com", "10.0.0.1");
        _throttle.RecordFailure("b@example.com", "10.0.0.1");

        _throttle.RecordSuccess("attacker@example.com");

        Assert.Equal(SlowDelay, _throttle.RecordFailure("c@example.com", "10.0.0.1"));
    }

    [Fact]
    public void RecordSuccess_IpAtLimit_StaysRefusedForEveryAccount()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.RecordFailure($"victim{i}@example.com", "10.0.0.1");
        }

        _throttle.RecordSuccess("attacker@example.com");
        _throttle.RecordSuccess("victim0@example.com");

        Assert.NotNull(_throttle.RetryAfter("attacker@example.com", "10.0.0.1"));
        Assert.NotNull(_throttle.RetryAfter("victim0@example.com", "10.0.0.1"));
        Assert.NotNull(_throttle.RetryAfter("victim5@example.com", "10.0.0.1"));
    }

    [Fact]
    public void RecordSuccess_UnknownEmail_DoesNothing()
    {
        _throttle.RecordSuccess("nobody@example.com");

        Assert.Null(_throttle.RetryAfter("nobody@example.com", "10.0.0.1"));
    }

    [Fact]
    public void RetryAfter_NullEmailAndIp_IsNull()
    {
        Assert.Null(_throttle.RetryAfter(null, null));
    }

    [Fact]
    public void RecordFailure_NullEmailAndIp_IsNeverSlowedNorRefused()
    {
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(null, null));
        }

        Assert.Null(_throttle.RetryAfter(null, null));
    }

    [Fact]
    public void RecordFailure_NullEmail_StillCountsTheIp()
    {
        for (var i = 0; i < 5; i++)
        {
            _throttle.RecordFailure(null, "10.0.0.1");
        }

        Assert.Equal(Window, _throttle.RetryAfter(null, "10.0.0.1"));
        Assert.Equal(Window, _throttle.RetryAfter(Victim, "10.0.0.1"));
    }

    [Fact]
    public void RecordFailure_NullIp_StillCountsTheAccount()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure(Victim, null);
        }

        Assert.Equal(Window, _throttle.RetryAfter(Victim, null));
    }

    [Fact]
    public void RecordFailure_NullIp_IsSlowedByAccountCount()
    {
        Assert.Equal(TimeSpan.Zero, _throttle.RecordFailure(Victim, null));
        Assert.Equal(SlowDelay, _throttle.RecordFailure(Victim, null));
    }

    [Fact]
    public void RetryAfter_EmailAndIpWithSameText_AreCountedSeparately()
    {
        for (var i = 0; i < 3; i++)
        {
            _throttle.RecordFailure("10.0.0.1", null);
        }

        Assert.Null(_throttle.RetryAfter(null, "10.0.0.1"));
    }
}
