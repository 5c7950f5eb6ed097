using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BluesMinds.Gateway.Hosting.Redis;

/// <summary>
/// The one shared multiplexer, connected on first use. It never throws at start-up: an unreachable
/// Redis is reported by readiness and handled by each caller's failure mode. Channels are named by
/// strings here so that the classes that publish and subscribe, which every instance runs, never
/// load StackExchange.Redis when Redis is not configured.
/// </summary>
internal sealed class RedisConnection(IOptions<RedisOptions> options) : IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _multiplexer = new(
        async () => await ConnectionMultiplexer.ConnectAsync(RedisConnectionString.Parse(options.Value.Url!)),
        LazyThreadSafetyMode.ExecutionAndPublication);

    public Task<IConnectionMultiplexer> GetAsync() => _multiplexer.Value;

    /// <summary>Publishes a message; false when Redis could not be reached (callers fall back to their refresh interval).</summary>
    public async Task<bool> TryPublishAsync(string channel, string message)
    {
        try
        {
            var multiplexer = await GetAsync();
            await multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(channel), message);
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Subscribes a handler to a channel; the failure when Redis could not be reached, else null.</summary>
    public async Task<Exception?> TrySubscribeAsync(string channel, Func<string, Task> onMessage, CancellationToken cancellationToken)
    {
        try
        {
            var multiplexer = await GetAsync().WaitAsync(cancellationToken);
            var queue = await multiplexer.GetSubscriber().SubscribeAsync(RedisChannel.Literal(channel));
            queue.OnMessage(message => onMessage(message.Message.ToString()));
            return null;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return ex;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully)
        {
            await _multiplexer.Value.Result.DisposeAsync();
        }
    }
}
