using BluesMinds.Gateway.Proxy.UsageAccounting;

namespace BluesMinds.Gateway.Tests.Usage;

/// <summary>The usage writer's loop blocks (fsync, SQLite), so it must never run on a thread-pool thread.</summary>
public sealed class UsageWriterThreadTests
{
    [Fact]
    public async Task EveryContinuationOfTheLoop_RunsOnTheWriterThread_NotOnThePool()
    {
        using var thread = new UsageWriterThread();
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
        var thread = new UsageWriterThread();
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
        using var thread = new UsageWriterThread();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => thread.RunAsync(async () =>
        {
            await Task.Yield();
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("boom", error.Message);
    }
}
