using System.Security.Cryptography;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>
/// Holds the current <see cref="RoutingTable"/> and rebuilds it from <c>litellm_servers</c>: at once
/// after an admin change on this instance, on a Redis announcement from another instance, and every
/// <c>Upstreams:RoutingRefreshSeconds</c> as a backstop.
/// </summary>
internal sealed partial class RoutingTableSource(
    IServiceScopeFactory scopes,
    SecretProtector protector,
    UpstreamHealthRegistry health,
    ILogger<RoutingTableSource> logger,
    RedisConnection? redis = null) : IDisposable
{
    public const string Channel = "bluesminds:servers:changed";

    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile RoutingTable? _current;

    /// <summary>The table; loaded on first use if the refresh job has not done it yet.</summary>
    public async ValueTask<RoutingTable> GetAsync(CancellationToken cancellationToken) =>
        _current ?? await ReloadAsync(cancellationToken);

    public RoutingTable? Current => _current;

    public async Task<RoutingTable> ReloadAsync(CancellationToken cancellationToken)
    {
        // A database read (SQLite's blocks): never on a socket thread.
        await InlineSocketIo.LeaveAsync();
        await _reload.WaitAsync(cancellationToken);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            var rows = await db.LitellmServers.AsNoTracking().OrderBy(s => s.Priority).ThenBy(s => s.Name).ToListAsync(cancellationToken);
            var servers = new List<UpstreamServer>(rows.Count);
            foreach (var row in rows)
            {
                string? apiKey = null;
                if (row.ApiKeyEncrypted is not null)
                {
                    try
                    {
                        apiKey = protector.Unprotect(row.ApiKeyEncrypted);
                    }
                    catch (CryptographicException ex)
                    {
                        // Keep serving the others; this one cannot authenticate upstream, so it stays out.
                        LogUndecryptable(logger, row.Name, ex);
                        continue;
                    }
                }

                servers.Add(new UpstreamServer(row.Id, row.Name, new Uri(row.BaseUrl), apiKey, row.Weight, row.Priority, row.SupportedModels, row.Enabled));
            }

            var table = new RoutingTable(servers);
            health.Retain(servers.Select(s => s.Id));
            _current = table;
            return table;
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>Reload here and tell the other instances.</summary>
    public async Task ChangedAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync(cancellationToken);
        if (redis is not null && !await redis.TryPublishAsync(Channel, "changed"))
        {
            LogPublishFailed(logger);
        }
    }

    public void Dispose() => _reload.Dispose();

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "The API key of upstream {Server} cannot be decrypted with the current ENCRYPTION_KEY; the server is left out of routing")]
    private static partial void LogUndecryptable(ILogger logger, string server, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Could not announce a server change; other instances pick it up at their next refresh")]
    private static partial void LogPublishFailed(ILogger logger);
}

/// <summary>Keeps every instance's table fresh: periodic reload, plus Redis announcements when configured.</summary>
internal sealed partial class RoutingTableRefreshJob(
    RoutingTableSource source,
    IOptions<UpstreamOptions> options,
    TimeProvider time,
    ILogger<RoutingTableRefreshJob> logger,
    RedisConnection? redis = null) : AnnouncedReloadJob(time, redis)
{
    protected override string Channel => RoutingTableSource.Channel;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.RoutingRefreshSeconds);

    protected override Task ReloadAsync(CancellationToken cancellationToken) => source.ReloadAsync(cancellationToken);

    // The last good table keeps serving; the database may be down for a moment.
    protected override void OnReloadFailed(Exception exception) => LogRefreshFailed(logger, exception);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Could not refresh the routing table; the previous one keeps serving")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
