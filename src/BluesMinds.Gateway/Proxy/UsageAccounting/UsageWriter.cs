using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Drains <see cref="UsageQueue"/> into the database in batches, and loses no record:
/// <list type="bullet">
/// <item>each batch is appended to the <see cref="UsageJournal"/> (fsync'd) before its insert, and the
/// journal is emptied once the insert is durable, so a crash mid-batch is replayed at the next start;</item>
/// <item>on the embedded database a commit is made durable (the WAL fsync'd) at most every
/// <see cref="DurableInterval"/>, and within that long after the last batch: the batches between
/// commit without the fsync and wait in the journal, already on disk, until one that is durable;</item>
/// <item>while the database is away, batches keep going to the journal (the queue never fills up
/// because of an outage) and the journal is replayed with backoff until it is in;</item>
/// <item>at shutdown the queue is drained into the journal, then written if the database answers.</item>
/// </list>
/// Inserts are idempotent on request id, so a replay never duplicates a record.
/// </summary>
internal sealed partial class UsageWriter(
    UsageQueue queue, UsageStore store, IOptions<UsageOptions> usage, IOptions<AppOptions> app, IHostEnvironment environment, TimeProvider time, ILogger<UsageWriter> logger)
    : BackgroundService
{
    public const int BatchSize = 500;
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(10);
    internal static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(25);
    internal static readonly TimeSpan FirstGather = TimeSpan.FromMilliseconds(5);
    internal static readonly TimeSpan NextRecordWait = TimeSpan.FromMilliseconds(5);
    internal static readonly TimeSpan DurableInterval = TimeSpan.FromSeconds(1);

    private readonly UsageWriterThread _thread = new(time);
    private UsageJournal? _journal;
    private bool _pending;
    private TimeSpan _delay = FirstRetry;
    private DateTimeOffset _nextAttempt;
    private long _lastWrite;

    // The loop's wait for the queue's next record, kept across a wait that timed out before it came.
    private Task<bool>? _arrival;

    // Since when the database has held commits that are not durable (UsageStore.Durable), whose
    // records the journal therefore keeps; or since the last attempt to make them durable.
    private long _undurableSince;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Opened here so that a journal held by another instance stops start-up with a clear error.
        var dataDirectory = AppOptions.ResolveDataDirectory(app.Value.DataDirectory, environment.ContentRootPath);
        _journal = new UsageJournal(usage.Value.ResolveJournalPath(dataDirectory), logger);
        _pending = _journal.HasRecords;
        return base.StartAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _thread.RunAsync(() => RunAsync(stoppingToken));

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var journal = _journal!;
        var batch = new List<UsageRecord>(BatchSize);
        var reader = queue.Reader;
        try
        {
            while (true)
            {
                if (_pending)
                {
                    await ReplayIfDueAsync(journal);
                    await WaitForRecordsAsync(reader, _nextAttempt - time.GetUtcNow(), stoppingToken);
                }
                else if (!store.Durable && reader.Count == 0)
                {
                    if (!await WaitForRecordsAsync(reader, DurableInterval - time.GetElapsedTime(_undurableSince), stoppingToken))
                    {
                        MakeDurable(journal);
                    }

                    continue;
                }
                else if (!await ArrivalAsync(reader, stoppingToken))
                {
                    break;
                }
                else
                {
                    await GatherAsync(reader, stoppingToken);
                }

                Drain(reader, batch);
                if (batch.Count > 0)
                {
                    await WriteAsync(journal, batch);
                    batch.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutdown: everything still queued goes to the journal first, then to the database if it answers.
        if (!_pending && !store.Durable)
        {
            MakeDurable(journal);
        }

        Drain(reader, batch, int.MaxValue);
        if (batch.Count > 0)
        {
            journal.Append(batch);
            _pending = true;
        }

        if (_pending)
        {
            _nextAttempt = DateTimeOffset.MinValue;
            await ReplayIfDueAsync(journal);
            if (_pending)
            {
                LogLeftInJournal(logger, journal.FilePath);
            }
        }
    }

    public override void Dispose()
    {
        _journal?.Dispose();
        _thread.Dispose();
        base.Dispose();
    }

    private async Task WriteAsync(UsageJournal journal, List<UsageRecord> batch)
    {
        journal.Append(batch);
        if (_pending)
        {
            // The database is away: the batch waits in the journal for the next replay.
            return;
        }

        try
        {
            var wasDurable = store.Durable;
            await InsertIsolatingAsync(journal, batch, !wasDurable && time.GetElapsedTime(_undurableSince) >= DurableInterval, fresh: true);
            if (store.Durable)
            {
                journal.Clear();
            }
            else if (wasDurable)
            {
                _undurableSince = time.GetTimestamp();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogWriteFailed(logger, batch.Count, ex);
            _pending = true;
            ScheduleRetry();
        }
    }

    private async Task ReplayIfDueAsync(UsageJournal journal)
    {
        if (time.GetUtcNow() < _nextAttempt)
        {
            return;
        }

        try
        {
            var replayed = 0;
            foreach (var chunk in journal.Read(BatchSize))
            {
                await InsertIsolatingAsync(journal, chunk, durable: true, fresh: false);
                replayed += chunk.Count;
            }

            // In the database; the journal keeps them until they are on its disk too.
            ClearWhenDurable(journal);
            _pending = false;
            _delay = FirstRetry;
            LogReplayed(logger, replayed);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReplayFailed(logger, _delay.TotalSeconds, ex);
            ScheduleRetry();
        }
    }

    /// <summary>
    /// Inserts a batch. If the database refuses a record's values (not its own state), the batch is
    /// halved until the refused record is found and set aside, so one bad record never blocks the
    /// rest. Every other failure propagates and the journal keeps the batch for the next attempt.
    /// </summary>
    private async Task InsertIsolatingAsync(UsageJournal journal, List<UsageRecord> batch, bool durable, bool fresh)
    {
        try
        {
            await store.InsertAsync(batch, durable, fresh);
        }
        catch (Exception ex) when (UsageStore.IsRecordFault(ex))
        {
            if (batch.Count == 1)
            {
                journal.Reject(batch[0]);
                LogRejected(logger, batch[0].RequestId, journal.FilePath, ex);
                return;
            }

            var half = batch.Count / 2;
            await InsertIsolatingAsync(journal, batch.Take(half).ToList(), durable, fresh);
            await InsertIsolatingAsync(journal, batch.Skip(half).ToList(), durable, fresh);
        }
    }

    /// <summary>
    /// After the last batch of a spell: makes its commits durable and empties the journal. Should the
    /// database not promise it yet, the journal keeps the records and this is tried again an interval
    /// later; should it fail, the records are replayed like any others the database did not take.
    /// </summary>
    private void MakeDurable(UsageJournal journal)
    {
        try
        {
            ClearWhenDurable(journal);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogDurableFailed(logger, ex);
            _pending = true;
            ScheduleRetry();
        }
    }

    /// <summary>Empties the journal if every commit is (or can now be made) durable; if not, tries again an interval later.</summary>
    private void ClearWhenDurable(UsageJournal journal)
    {
        if (store.MakeDurable())
        {
            journal.Clear();
        }
        else
        {
            _undurableSince = time.GetTimestamp();
        }
    }

    private void ScheduleRetry()
    {
        _nextAttempt = time.GetUtcNow() + _delay;
        _delay = TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, LastRetry.Ticks));
    }

    /// <summary>Waits for a record, or for the timeout on the host's clock; false when the timeout came first.</summary>
    private async Task<bool> WaitForRecordsAsync(System.Threading.Channels.ChannelReader<UsageRecord> reader, TimeSpan timeout, CancellationToken stoppingToken)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return reader.Count > 0;
        }

        var arrival = _arrival ??= reader.WaitToReadAsync(stoppingToken).AsTask();
        if (!arrival.IsCompleted)
        {
            await Task.WhenAny(arrival, _thread.SleepAsync(timeout, stoppingToken));
            _thread.EndSleep();
            stoppingToken.ThrowIfCancellationRequested();
            if (!arrival.IsCompleted)
            {
                return false;
            }
        }

        return await ArrivalAsync(reader, stoppingToken);
    }

    /// <summary>Waits for the queue's next record (true) or its completion (false).</summary>
    private Task<bool> ArrivalAsync(System.Threading.Channels.ChannelReader<UsageRecord> reader, CancellationToken stoppingToken)
    {
        var arrival = _arrival ?? reader.WaitToReadAsync(stoppingToken).AsTask();
        _arrival = null;
        return arrival;
    }

    /// <summary>
    /// Lets a batch gather until <see cref="BatchWindow"/> after the previous write began, and for at
    /// least <see cref="FirstGather"/>, then for the next request to finish (<see cref="NextRecordAsync"/>),
    /// unless a full batch is already waiting. Each batch costs an
    /// fsync of the journal and a commit whatever its size, so under load a few large batches cost
    /// far less than many small ones. After an idle spell requests tend to finish together (streams
    /// that began together end together): written at the first record, the burst took two batches,
    /// and the first ran while the callers' next requests were being forwarded, on the same cores.
    /// </summary>
    private async Task GatherAsync(System.Threading.Channels.ChannelReader<UsageRecord> reader, CancellationToken stoppingToken)
    {
        var wait = BatchWindow - time.GetElapsedTime(_lastWrite);
        if (wait < FirstGather)
        {
            wait = FirstGather;
        }

        if (reader.Count < BatchSize)
        {
            await _thread.SleepAsync(wait, stoppingToken);
        }

        if (reader.Count < BatchSize)
        {
            await NextRecordAsync(stoppingToken);
        }

        _lastWrite = time.GetTimestamp();
    }

    /// <summary>
    /// Waits, for at most <see cref="NextRecordWait"/>, for the next request to finish. Written when
    /// its window ran out, a batch ran as often as not while a request was on its way through the
    /// same cores, and delayed it: at 500 requests/s batches overlapped 7 % of all requests but 27–38 %
    /// of the slowest 5 %. Written just after a request finished, it runs in the gap before the next.
    /// </summary>
    private async Task NextRecordAsync(CancellationToken stoppingToken)
    {
        var sleep = _thread.SleepAsync(NextRecordWait, stoppingToken);
        queue.OnNextRecord(() => _thread.EndSleep(sleep));
        try
        {
            await sleep;
        }
        finally
        {
            queue.OnNextRecord(null);
        }
    }

    private static void Drain(System.Threading.Channels.ChannelReader<UsageRecord> reader, List<UsageRecord> batch, int max = BatchSize)
    {
        while (batch.Count < max && reader.TryRead(out var record))
        {
            batch.Add(record);
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Could not write {Count} usage record(s); they are kept in the journal and retried")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Warning, Message = "Could not make the last usage commits durable; their records are kept in the journal and replayed")]
    private static partial void LogDurableFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Could not replay the usage journal; next attempt in {Seconds} s")]
    private static partial void LogReplayFailed(ILogger logger, double seconds, Exception exception);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Information, Message = "Replayed {Count} usage record(s) from the journal into the database")]
    private static partial void LogReplayed(ILogger logger, int count);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "The database refused usage record {RequestId}; it is kept in {Path}.rejected.jsonl")]
    private static partial void LogRejected(ILogger logger, string requestId, string path, Exception exception);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "The database did not answer at shutdown; usage records stay in {Path} and are replayed at the next start")]
    private static partial void LogLeftInJournal(ILogger logger, string path);
}
