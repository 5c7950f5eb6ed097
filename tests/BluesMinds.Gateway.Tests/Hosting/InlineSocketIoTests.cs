using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Http;

namespace BluesMinds.Gateway.Tests.Hosting;

public sealed class InlineSocketIoTests
{
    [Theory]
    [InlineData(DatabaseProvider.Sqlite, true)]
    [InlineData(DatabaseProvider.Postgres, false)]
    public void Unset_IsOnWithTheEmbeddedDatabaseOnly(DatabaseProvider provider, bool expected) =>
        Assert.Equal(expected, InlineSocketIo.Decide(setting: null, runtimeVariable: null, provider));

    [Theory]
    [InlineData(true, DatabaseProvider.Postgres)]
    [InlineData(false, DatabaseProvider.Sqlite)]
    public void TheSetting_OverridesTheDefault(bool setting, DatabaseProvider provider) =>
        Assert.Equal(setting, InlineSocketIo.Decide(setting, runtimeVariable: null, provider));

    [Theory]
    [InlineData("1", false, DatabaseProvider.Postgres, true)]
    [InlineData("0", true, DatabaseProvider.Sqlite, false)]
    [InlineData("true", null, DatabaseProvider.Sqlite, false)]
    public void TheOperatorsRuntimeVariable_Wins_AsTheRuntimeReadsIt(string variable, bool? setting, DatabaseProvider provider, bool expected) =>
        // The runtime turns inline completions on for exactly "1"; anything else leaves them off.
        Assert.Equal(expected, InlineSocketIo.Decide(setting, variable, provider));

    [Fact]
    public async Task Leaving_FromAThreadOfItsOwn_ContinuesOnThePool()
    {
        var continued = new TaskCompletionSource<(bool Before, bool After, int BeforeId, int AfterId)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            // A plain thread stands in for a socket event thread: neither belongs to the pool.
            RunAsync().ContinueWith(t => continued.TrySetException(t.Exception!), TaskContinuationOptions.OnlyOnFaulted);

            async Task RunAsync()
            {
                // Read before the hand-off: the thread may be gone by the time the continuation runs.
                var (beforeOnPool, beforeId) = (Thread.CurrentThread.IsThreadPoolThread, Environment.CurrentManagedThreadId);
                await InlineSocketIo.LeaveAsync();
                continued.SetResult((beforeOnPool, Thread.CurrentThread.IsThreadPoolThread, beforeId, Environment.CurrentManagedThreadId));
            }
        });
        thread.Start();

        var (beforeOnPool, afterOnPool, beforeId, afterId) = await continued.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.False(beforeOnPool);
        Assert.True(afterOnPool);
        Assert.NotEqual(beforeId, afterId);
    }

    [Fact]
    public async Task Leaving_FromThePool_DoesNotHandOff()
    {
        var (completedAtOnce, sameThread) = await Task.Run(() =>
        {
            var awaitable = InlineSocketIo.LeaveAsync();
            var before = Environment.CurrentManagedThreadId;
            var task = LeaveAndReportAsync();
            return (awaitable.IsCompleted, task.IsCompleted && task.Result == before);

            static async Task<int> LeaveAndReportAsync()
            {
                await InlineSocketIo.LeaveAsync();
                return Environment.CurrentManagedThreadId;
            }
        }, TestContext.Current.CancellationToken);

        Assert.True(completedAtOnce);
        Assert.True(sameThread);
    }
}
