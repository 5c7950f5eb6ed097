using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Shared;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Drains <see cref="UsageQueue"/> into <c>usage_logs</c> in batches, retrying with backoff while the
/// database is away and flushing what is left at shutdown. Inserts are idempotent on request id.
/// </summary>
internal sealed partial class UsageWriter(UsageQueue queue, IServiceScopeFactory scopes, ILogger<UsageWriter> logger) : BackgroundService
{
    private const int BatchSize = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<UsageRecord>(BatchSize);
        var reader = queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < BatchSize && reader.TryRead(out var record))
                {
                    batch.Add(record);
                }

                await WriteWithRetryAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutdown: whatever is still queued or in hand is written before the process ends.
        while (reader.TryRead(out var record))
        {
            batch.Add(record);
        }

        if (batch.Count > 0)
        {
            await WriteWithRetryAsync(batch, CancellationToken.None, attempts: 3);
        }
    }

    private async Task WriteWithRetryAsync(List<UsageRecord> batch, CancellationToken stoppingToken, int attempts = int.MaxValue)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await InsertAsync(batch);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && attempt < attempts)
            {
                LogWriteFailed(logger, batch.Count, attempt, ex);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 10_000));
            }
        }
    }

    private async Task InsertAsync(List<UsageRecord> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
        db.UsageLogs.AddRange(batch.Select(ToRow));
        try
        {
            await db.SaveChangesAsync();
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            // A record already written (a retry after an ambiguous failure): insert the rest one by one.
            db.ChangeTracker.Clear();
            var ids = batch.Select(r => r.RequestId).ToList();
            var existing = (await db.UsageLogs.Where(u => ids.Contains(u.RequestId)).Select(u => u.RequestId).ToListAsync()).ToHashSet(StringComparer.Ordinal);
            db.UsageLogs.AddRange(batch.Where(r => !existing.Contains(r.RequestId)).Select(ToRow));
            await db.SaveChangesAsync();
        }
    }

    private static UsageLog ToRow(UsageRecord r) => new()
    {
        RequestId = r.RequestId,
        UserId = r.UserId,
        ApiKeyId = r.ApiKeyId,
        Endpoint = r.Endpoint,
        ModelRequested = r.ModelRequested,
        ModelServed = r.ModelServed,
        ServerId = r.ServerId,
        PromptTokens = r.PromptTokens,
        CompletionTokens = r.CompletionTokens,
        CachedTokens = r.CachedTokens,
        TotalTokens = r.TotalTokens,
        TokensEstimated = r.TokensEstimated,
        LatencyMs = r.LatencyMs,
        TimeToFirstByteMs = r.TimeToFirstByteMs,
        Streamed = r.Streamed,
        ClientDisconnected = r.ClientDisconnected,
        StatusCode = r.StatusCode,
        ErrorCode = r.ErrorCode,
        CreatedAt = r.CreatedAt,
    };

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Could not write {Count} usage record(s) (attempt {Attempt}); retrying")]
    private static partial void LogWriteFailed(ILogger logger, int count, int attempt, Exception exception);
}
