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

    /// <summary>
    /// Walks the primary key from the oldest row, a chunk at a time, deleting the chunk's rows older
    /// than the cutoff, and stops after the first chunk that holds a row inside the retention window.
    /// Rows are numbered as they are written, so the walk reads about one chunk past what it deletes
    /// instead of needing an index on <c>created_at</c> that every request would pay to write. A
    /// record written late (replayed from the journal after an outage) is deleted with the rows
    /// written around it.
    /// </summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        if (options.Value.RetentionDays == 0)
        {
            return 0;
        }

        var cutoff = time.GetUtcNow().UtcDateTime.AddDays(-options.Value.RetentionDays);
        var total = 0;
        var after = long.MinValue;
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            var chunk = await db.UsageLogs.Where(u => u.Id > after).OrderBy(u => u.Id).Take(ChunkSize)
                .Select(u => new { u.Id, Old = u.CreatedAt < cutoff }).ToListAsync(cancellationToken);
            if (chunk.Count == 0)
            {
                return total;
            }

            var last = chunk[^1].Id;
            var old = chunk.Count(r => r.Old);
            if (old > 0)
            {
                total += await db.UsageLogs.Where(u => u.Id > after && u.Id <= last && u.CreatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
            }

            if (old < chunk.Count)
            {
                return total;
            }

            after = last;
        }
    }

    [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "Deleted {Count} usage_logs row(s) older than {Days} days; daily rollups are kept")]
    private static partial void LogPruned(ILogger logger, int count, int days);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Warning, Message = "Could not prune old usage_logs rows; will try again in an hour")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
