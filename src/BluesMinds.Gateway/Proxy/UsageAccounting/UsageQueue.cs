using System.Threading.Channels;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// The bounded queue between the hot path and <see cref="UsageWriter"/>. When it is full the
/// request that finishes waits for room (back-pressure) rather than dropping its record.
/// </summary>
internal sealed class UsageQueue
{
    public const int Capacity = 50_000;

    private readonly Channel<UsageRecord> _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
        SingleWriter = false,
    });

    // Set while the writer waits for the next request to finish (UsageWriter.NextRecordAsync).
    private Action? _nextRecord;

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    /// <summary>True while a callback waits for the next record.</summary>
    public bool WaitsForNextRecord => Volatile.Read(ref _nextRecord) is not null;

    /// <summary>Calls <paramref name="callback"/> once, on the thread that queues the next record; null withdraws it.</summary>
    public void OnNextRecord(Action? callback) => Volatile.Write(ref _nextRecord, callback);

    public ValueTask EnqueueAsync(UsageRecord record)
    {
        if (!_channel.Writer.TryWrite(record))
        {
            return _channel.Writer.WriteAsync(record, CancellationToken.None);
        }

        if (Volatile.Read(ref _nextRecord) is not null)
        {
            Interlocked.Exchange(ref _nextRecord, null)?.Invoke();
        }

        return ValueTask.CompletedTask;
    }
}
