using System.Diagnostics;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Proxy.Forwarding;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>
/// Checks every enabled server on an interval with LiteLLM's <c>/health/liveliness</c>, falling back
/// to <c>GET /v1/models</c> — never a paid completion — and records the verdict in memory (routing)
/// and in <c>litellm_servers</c> (admin API, other instances' dashboards).
/// </summary>
internal sealed partial class UpstreamHealthMonitor(
    RoutingTableSource tables,
    UpstreamHealthRegistry health,
    UpstreamClient client,
    IServiceScopeFactory scopes,
    IOptions<UpstreamOptions> options,
    TimeProvider time,
    ILogger<UpstreamHealthMonitor> logger) : BackgroundService
{
    private readonly System.Threading.Channels.Channel<bool> _checkNow =
        System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    /// <summary>Asks for a round of checks now (a server was added or changed) instead of at the next interval.</summary>
    public void CheckSoon() => _checkNow.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(options.Value.HealthCheckIntervalSeconds);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var table = tables.Current;
                if (table is not null)
                {
                    await Task.WhenAll(table.Servers.Where(s => s.Enabled).Select(s => CheckAsync(s, stoppingToken)));
                }

                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var tick = Task.Delay(interval, time, wait.Token);
                var signal = _checkNow.Reader.WaitToReadAsync(wait.Token).AsTask();
                await Task.WhenAny(tick, signal);
                _checkNow.Reader.TryRead(out _);
                await wait.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task CheckAsync(UpstreamServer server, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        string? error = null;
        var healthy = false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.HealthCheckTimeoutSeconds));
        try
        {
            var status = await client.GetStatusAsync(server, server.RootUri("health/liveliness"), timeout.Token);
            if (status is < 200 or >= 300)
            {
                // Not LiteLLM, or its liveliness route is off: the model list is the next cheapest proof of life.
                status = await client.GetStatusAsync(server, server.EndpointUri("models"), timeout.Token);
            }

            healthy = status is >= 200 and < 300;
            error = healthy ? null : $"HTTP {status}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = "timed out";
        }
        catch (HttpRequestException ex)
        {
            error = ex.HttpRequestError == HttpRequestError.Unknown ? "request failed" : ex.HttpRequestError.ToString();
        }

        var latency = (int)watch.ElapsedMilliseconds;
        var now = time.GetUtcNow();
        health.For(server.Id).RecordCheck(healthy, now, latency, error);
        await PersistAsync(server.Id, healthy, now.UtcDateTime, latency, error);
    }

    private async Task PersistAsync(Guid serverId, bool healthy, DateTime at, int latency, string? error)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            await db.LitellmServers.Where(s => s.Id == serverId).ExecuteUpdateAsync(s => s
                .SetProperty(x => x.HealthStatus, healthy ? ServerHealthStatuses.Healthy : ServerHealthStatuses.Unhealthy)
                .SetProperty(x => x.LastHealthCheckAt, at)
                .SetProperty(x => x.LastLatencyMs, latency)
                .SetProperty(x => x.LastError, error));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogPersistFailed(logger, ex);
        }
    }

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Could not store an upstream health check result")]
    private static partial void LogPersistFailed(ILogger logger, Exception exception);
}
