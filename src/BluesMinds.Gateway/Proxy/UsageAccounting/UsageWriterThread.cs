namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// A task scheduler with one thread of its own, for the usage writer's loop: every continuation of
/// the loop resumes here. The loop blocks on purpose (the journal's fsync, SQLite's synchronous
/// calls, its WAL commits and checkpoints); on the thread pool of a two-core replica each of those
/// milliseconds was a pool thread that requests queued behind, which showed as p99 latency.
/// </summary>
internal sealed class UsageWriterThread : TaskScheduler, IDisposable
{
    // A plain monitor, not a BlockingCollection: the loop goes idle between every two batches, and
    // BlockingCollection's semaphore spun (sched_yield) each time before it slept, which was a sixth
    // of this thread's CPU, taken from the request threads on two cores. Monitor.Wait sleeps at once.
    private readonly Queue<Task> _tasks = new();
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
        lock (_tasks)
        {
            _closed = true;
            Monitor.Pulse(_tasks);
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (_tasks)
        {
            if (!_closed)
            {
                _tasks.Enqueue(task);
                Monitor.Pulse(_tasks);
                return;
            }
        }

        // Disposed while the loop still awaited something (a shutdown that timed out): finish on the
        // pool rather than throw from whatever thread completed the awaited task.
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Scheduler.TryExecuteTask(state.Task), (Scheduler: this, Task: task), preferLocal: false);
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        Thread.CurrentThread == _thread && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_tasks)
        {
            return [.. _tasks];
        }
    }

    private void Run()
    {
        while (true)
        {
            Task task;
            lock (_tasks)
            {
                while (_tasks.Count == 0)
                {
                    if (_closed)
                    {
                        return;
                    }

                    Monitor.Wait(_tasks);
                }

                task = _tasks.Dequeue();
            }

            TryExecuteTask(task);
        }
    }
}
