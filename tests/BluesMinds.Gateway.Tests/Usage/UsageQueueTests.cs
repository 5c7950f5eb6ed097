using BluesMinds.Gateway.Proxy.UsageAccounting;

namespace BluesMinds.Gateway.Tests.Usage;

/// <summary>The writer can ask to hear of the next record queued (to write its batch just after a request finishes).</summary>
public sealed class UsageQueueTests
{
    [Fact]
    public async Task TheNextRecord_CallsTheCallbackOnce_OnTheQueuingThread()
    {
        var queue = new UsageQueue();
        var calls = new List<int>();
        queue.OnNextRecord(() => calls.Add(Environment.CurrentManagedThreadId));
        Assert.True(queue.WaitsForNextRecord);

        await queue.EnqueueAsync(Record("first"));
        await queue.EnqueueAsync(Record("second"));

        Assert.Equal([Environment.CurrentManagedThreadId], calls);
        Assert.False(queue.WaitsForNextRecord);
        Assert.Equal(2, queue.Reader.Count);
    }

    [Fact]
    public async Task AWithdrawnCallback_IsNotCalled()
    {
        var queue = new UsageQueue();
        var called = false;
        queue.OnNextRecord(() => called = true);
        queue.OnNextRecord(null);

        await queue.EnqueueAsync(Record("only"));

        Assert.False(called);
        Assert.True(queue.Reader.TryRead(out var record));
        Assert.Equal("only", record.RequestId);
    }

    private static UsageRecord Record(string id) => new() { RequestId = id, Endpoint = "chat.completions", StatusCode = 200, CreatedAt = DateTime.UtcNow };
}
