using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BluesMinds.Gateway.Hosting.Redis;

/// <summary>
/// The one shared multiplexer, connected on first use. It never throws at start-up: an unreachable
/// Redis is reported by readiness and handled by each caller's failure mode.
/// </summary>
internal sealed class RedisConnection(IOptions<RedisOptions> options) : IAsyncDisposable
{
    private readonly Lazy<Task<IConnectionMultiplexer>> _multiplexer = new(
        async () => await ConnectionMultiplexer.ConnectAsync(RedisConnectionString.Parse(options.Value.Url!)),
        LazyThreadSafetyMode.ExecutionAndPublication);

    public Task<IConnectionMultiplexer> GetAsync() => _multiplexer.Value;

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully)
        {
            await _multiplexer.Value.Result.DisposeAsync();
        }
    }
}
