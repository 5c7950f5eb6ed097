namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// A task scheduler with one thread of its own, for the usage writer's loop: every continuation of
/// the loop resumes here. The loop blocks on purpose (the journal's fsync, SQLite's synchronous
/// calls, its WAL commits and checkpoints); on the thread pool of a two-core replica each of those
/// milliseconds was a pool thread that requests queued behind, which showed as p99 latency.
/// <para>
/// The loop's waits (a batch gathering, the durable interval) are kept by this thread too
/// (<see cref="SleepAsync"/>): a runtime timer woke its own thread, then a pool thread for the
/// callback, then this one, three to four wake-ups per batch where this is one.
/// </para>
/// </summary>
internal sealed class UsageWriterThread : TaskScheduler, IDisposable
{
    private const double LongestWaitMs = 60_000;

    // A plain monitor, not a BlockingCollection: the loop goes idle between every two batches, and
    // BlockingCollection's semaphore spun (sched_yield) each time before it slept, which was a sixth
    // of this thread's CPU, taken from the request threads on two cores. Monitor.Wait sleeps at once.
    private readonly Queue<Task> _tasks = new();
    private readonly Thread _thread;
    private readonly TimeProvider _time;
    private Sleep? _sleep;
    private bool _closed;

    public UsageWriterThread(TimeProvider time)
    {
        _time = time;
        _thread = new Thread(Run) { IsBackground = true, Name = "Usage writer" };
        _thread.Start();
    }

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>Runs <paramref name="loop"/> on this thread; its awaits come back to it.</summary>
    public Task RunAsync(Func<Task> loop) =>
        Task.Factory.StartNew(loop, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    /// <summary>
    /// Completes, on this thread, once <paramref name="duration"/> has passed on the host's clock, or
    /// when <see cref="EndSleep()"/> is called; cancelled with <paramref name="cancellationToken"/>.
    /// Only the loop calls it, one sleep at a time.
    /// </summary>
    public Task SleepAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        var sleep = new Sleep(_time.GetTimestamp() + (long)(duration.TotalSeconds * _time.TimestampFrequency));
        lock (_tasks)
        {
            _sleep = sleep;
        }

        sleep.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((UsageWriterThread)state!).Wake(token), this);
        if (_time != TimeProvider.System)
        {
            // Another clock (a test's) moves by itself, not with real time: its timer tells this
            // thread when the sleep is over. The system clock needs none; this thread's wait is the timer.
            sleep.Timer = _time.CreateTimer(static state => ((UsageWriterThread)state!).Pulse(), this, duration, Timeout.InfiniteTimeSpan);
        }

        return sleep.Task;
    }

    /// <summary>Ends the current sleep early (what it waited for came first), so that this thread does not wake for it.</summary>
    public void EndSleep() => Wake(CancellationToken.None);

    /// <summary>Ends <paramref name="sleep"/> early if it is still the current one; from any thread.</summary>
    public void EndSleep(Task sleep) => Wake(CancellationToken.None, sleep);

    private void Wake(CancellationToken cancelled, Task? only = null)
    {
        Sleep? sleep;
        lock (_tasks)
        {
            sleep = _sleep;
            if (only is not null && sleep?.Task != only)
            {
                return;
            }

            _sleep = null;
        }

        sleep?.Wake(cancelled);
    }

    private void Pulse()
    {
        lock (_tasks)
        {
            Monitor.Pulse(_tasks);
        }
    }

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
            Task? task = null;
            Sleep? woken = null;
            lock (_tasks)
            {
                while (_tasks.Count == 0 && woken is null)
                {
                    if (_closed)
                    {
                        return;
                    }

                    if (_sleep is null)
                    {
                        Monitor.Wait(_tasks);
                    }
                    else if (_time.GetElapsedTime(_time.GetTimestamp(), _sleep.Until) is var left && left > TimeSpan.Zero)
                    {
                        // Whole milliseconds, rounded up: rounded down, the last fraction was spent spinning.
                        Monitor.Wait(_tasks, (int)Math.Ceiling(Math.Min(left.TotalMilliseconds, LongestWaitMs)));
                    }
                    else
                    {
                        woken = _sleep;
                        _sleep = null;
                    }
                }

                if (woken is null)
                {
                    task = _tasks.Dequeue();
                }
            }

            if (woken is not null)
            {
                woken.Wake(CancellationToken.None);
            }
            else
            {
                TryExecuteTask(task!);
            }
        }
    }

    /// <summary>A sleep until <see cref="Until"/>, a timestamp of the host's clock.</summary>
    private sealed class Sleep(long until) : TaskCompletionSource
    {
        public long Until { get; } = until;

        public CancellationTokenRegistration Registration { get; set; }

        public ITimer? Timer { get; set; }

        public void Wake(CancellationToken cancelled)
        {
            Registration.Dispose();
            Timer?.Dispose();
            if (cancelled.IsCancellationRequested)
            {
                TrySetCanceled(cancelled);
            }
            else
            {
                TrySetResult();
            }
        }
    }
}
