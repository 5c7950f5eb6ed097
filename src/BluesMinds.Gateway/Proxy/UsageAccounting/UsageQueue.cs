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

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    public ValueTask EnqueueAsync(UsageRecord record) =>
        _channel.Writer.TryWrite(record) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(record, CancellationToken.None);
}
