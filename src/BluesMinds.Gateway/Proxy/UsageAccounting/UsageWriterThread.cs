using System.Collections.Concurrent;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// A task scheduler with one thread of its own, for the usage writer's loop: every continuation of
/// the loop resumes here. The loop blocks on purpose (the journal's fsync, SQLite's synchronous
/// calls, its WAL commits and checkpoints); on the thread pool of a two-core replica each of those
/// milliseconds was a pool thread that requests queued behind, which showed as p99 latency.
/// </summary>
internal sealed class UsageWriterThread : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _tasks = [];
    private readonly Lock _closing = new();
    private readonly Thread _thread;
    private bool _closed;

    public UsageWriterThread()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "Usage writer" };
        _thread.Start();
    }

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>Runs <paramref name="loop"/> on this thread; its awaits come back to it.</summary>
    public Task RunAsync(Func<Task> loop) =>
        Task.Factory.StartNew(loop, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    public void Dispose()
    {
        lock (_closing)
        {
            _closed = true;
            _tasks.CompleteAdding();
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (_closing)
        {
            if (!_closed)
            {
                _tasks.Add(task);
                return;
            }
        }

        // Disposed while the loop still awaited something (a shutdown that timed out): finish on the
        // pool rather than throw from whatever thread completed the awaited task.
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Scheduler.TryExecuteTask(state.Task), (Scheduler: this, Task: task), preferLocal: false);
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        Thread.CurrentThread == _thread && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => [.. _tasks];

    private void Run()
    {
        foreach (var task in _tasks.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
