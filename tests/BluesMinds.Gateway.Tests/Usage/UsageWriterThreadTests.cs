using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.Time.Testing;

namespace BluesMinds.Gateway.Tests.Usage;

/// <summary>
/// The usage writer's loop blocks (fsync, SQLite), so it must never run on a thread-pool thread; and it
/// keeps its own waits, on the host's clock.
/// </summary>
public sealed class UsageWriterThreadTests
{
    [Fact]
    public async Task EveryContinuationOfTheLoop_RunsOnTheWriterThread_NotOnThePool()
    {
        using var thread = new UsageWriterThread(TimeProvider.System);
        var seen = new List<(int Id, bool Pool, string? Name)>();
        void Note() => seen.Add((Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name));

        await thread.RunAsync(async () =>
        {
            Note();
            await Task.Delay(5, TestContext.Current.CancellationToken);
            Note();
            await Task.Yield();
            Note();

            // An await on work that completes on the pool still resumes here.
            await Task.Run(() => Thread.Sleep(5), TestContext.Current.CancellationToken);
            Note();
        });

        Assert.Equal(4, seen.Count);
        Assert.Single(seen.Select(s => s.Id).Distinct());
        Assert.All(seen, s => Assert.False(s.Pool));
        Assert.All(seen, s => Assert.Equal("Usage writer", s.Name));
    }

    [Fact]
    public async Task DisposedWhileTheLoopStillAwaits_TheLoopFinishesOnThePool()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new UsageWriterThread(TimeProvider.System);
        var loop = thread.RunAsync(async () =>
        {
            await release.Task;
            await Task.Yield();
        });

        thread.Dispose();
        release.SetResult();
        await loop.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AnExceptionInTheLoop_ReachesTheAwaiter()
    {
        using var thread = new UsageWriterThread(TimeProvider.System);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => thread.RunAsync(async () =>
        {
            await Task.Yield();
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("boom", error.Message);
    }

    [Fact]
    public async Task ASleep_EndsWhenItsTimeHasPassedOnTheHostsClock_AndResumesOnTheWriterThread()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var thread = new UsageWriterThread(time);
        var slept = new TaskCompletionSource<Task>();
        var resumedOn = new TaskCompletionSource<string?>();

        var loop = thread.RunAsync(async () =>
        {
            var sleep = thread.SleepAsync(TimeSpan.FromMilliseconds(40), TestContext.Current.CancellationToken);
            slept.SetResult(sleep);
            await sleep;
            resumedOn.SetResult(Thread.CurrentThread.Name);
        });

        var sleep = await slept.Task;
        time.Advance(TimeSpan.FromMilliseconds(39));
        // Well past 40 ms of real time: the test's clock, not the wall clock, decides.
        await Task.Delay(300, TestContext.Current.CancellationToken);
        Assert.False(sleep.IsCompleted, "the sleep ended before its time had passed on the host's clock");

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("Usage writer", await resumedOn.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        await loop;
    }

    [Fact]
    public async Task ASleepOnTheSystemClock_LastsAtLeastItsDuration()
    {
        using var thread = new UsageWriterThread(TimeProvider.System);
        var elapsed = TimeSpan.Zero;
        await thread.RunAsync(async () =>
        {
            var started = TimeProvider.System.GetTimestamp();
            await thread.SleepAsync(TimeSpan.FromMilliseconds(30), TestContext.Current.CancellationToken);
            elapsed = TimeProvider.System.GetElapsedTime(started);
        });

        Assert.True(elapsed >= TimeSpan.FromMilliseconds(30), $"slept {elapsed.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task WhatASleepRacesAgainst_ResumesTheLoopAtOnce_AndEndSleepLetsTheThreadRest()
    {
        using var thread = new UsageWriterThread(new FakeTimeProvider(DateTimeOffset.UtcNow));
        var arrival = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sleep = Task.CompletedTask;

        var loop = thread.RunAsync(async () =>
        {
            sleep = thread.SleepAsync(TimeSpan.FromHours(1), TestContext.Current.CancellationToken);
            await Task.WhenAny(arrival.Task, sleep);
            Assert.Equal("Usage writer", Thread.CurrentThread.Name);
            thread.EndSleep();
        });

        // Completed from the pool while the writer thread waits out an hour on the test's clock.
        _ = Task.Run(arrival.SetResult, TestContext.Current.CancellationToken);
        await loop.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(sleep.IsCompletedSuccessfully, "an ended sleep completes");
    }

    [Fact]
    public async Task ASleep_IsCancelledWithItsToken()
    {
        using var thread = new UsageWriterThread(TimeProvider.System);
        using var stopping = new CancellationTokenSource();
        var loop = thread.RunAsync(() => thread.SleepAsync(TimeSpan.FromHours(1), stopping.Token));

        await stopping.CancelAsync();

        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(stopping.Token, cancelled.CancellationToken);
    }

    [Fact]
    public async Task EndingASleepThatIsOver_LeavesTheNextSleepAlone()
    {
        using var thread = new UsageWriterThread(new FakeTimeProvider(DateTimeOffset.UtcNow));
        var first = Task.CompletedTask;
        var second = Task.CompletedTask;
        var loop = thread.RunAsync(async () =>
        {
            first = thread.SleepAsync(TimeSpan.FromHours(1), TestContext.Current.CancellationToken);
            thread.EndSleep(first);
            await first;
            second = thread.SleepAsync(TimeSpan.FromHours(1), TestContext.Current.CancellationToken);

            // Late, from another thread: the first sleep's waker must not end the second.
            await Task.Run(() => thread.EndSleep(first), TestContext.Current.CancellationToken);
            await Task.Delay(100, TestContext.Current.CancellationToken);
            Assert.False(second.IsCompleted, "a late waker of the first sleep ended the second");
            thread.EndSleep(second);
            await second;
        });

        await loop.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.True(second.IsCompletedSuccessfully);
    }
}
