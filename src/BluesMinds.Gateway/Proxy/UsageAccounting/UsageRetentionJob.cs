using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Deletes raw <c>usage_logs</c> rows older than <c>USAGE_RETENTION_DAYS</c>, hourly and in chunks so
/// no long lock is held. The daily rollups are kept: usage pages and invoices never need raw rows.
/// </summary>
internal sealed partial class UsageRetentionJob(IServiceScopeFactory scopes, IOptions<UsageOptions> options, TimeProvider time, ILogger<UsageRetentionJob> logger)
    : BackgroundService
{
    private const int ChunkSize = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.RetentionDays == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        try
        {
            do
            {
                try
                {
                    var deleted = await PruneAsync(stoppingToken);
                    if (deleted > 0)
                    {
                        LogPruned(logger, deleted, options.Value.RetentionDays);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPruneFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RetentionDays == 0)
        {
            return 0;
        }

        var cutoff = time.GetUtcNow().UtcDateTime.AddDays(-options.Value.RetentionDays);
        var total = 0;
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            var ids = await db.UsageLogs.Where(u => u.CreatedAt < cutoff).OrderBy(u => u.Id).Select(u => u.Id).Take(ChunkSize).ToListAsync(cancellationToken);
            if (ids.Count == 0)
            {
                return total;
            }

            total += await db.UsageLogs.Where(u => ids.Contains(u.Id)).ExecuteDeleteAsync(cancellationToken);
        }
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "Deleted {Count} usage_logs row(s) older than {Days} days; daily rollups are kept")]
    private static partial void LogPruned(ILogger logger, int count, int days);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Warning, Message = "Could not prune old usage_logs rows; will try again in an hour")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
