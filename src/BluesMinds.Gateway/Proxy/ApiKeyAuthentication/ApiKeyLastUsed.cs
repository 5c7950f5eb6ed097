using System.Collections.Concurrent;
using BluesMinds.Gateway.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

/// <summary>Remembers when each key was last used; the hot path only writes to memory.</summary>
internal sealed class ApiKeyLastUsed
{
    // UTC ticks, not DateTime: the dictionary overwrites a primitive value in place, where every
    // update of any other struct allocated a new node, once per request.
    private ConcurrentDictionary<Guid, long> _pending = new();

    public void Record(Guid keyId, DateTime at) =>
        _pending.AddOrUpdate(keyId, static (_, candidate) => candidate, static (_, existing, candidate) => Math.Max(existing, candidate), at.Ticks);

    /// <summary>Takes everything recorded so far, leaving an empty set for new uses.</summary>
    public IReadOnlyDictionary<Guid, DateTime> Drain() =>
        Interlocked.Exchange(ref _pending, new ConcurrentDictionary<Guid, long>()).ToDictionary(e => e.Key, e => new DateTime(e.Value, DateTimeKind.Utc));
}

/// <summary>Writes <c>last_used_at</c> in batches every few seconds, and once more at shutdown.</summary>
internal sealed partial class ApiKeyLastUsedFlushJob(
    ApiKeyLastUsed lastUsed,
    IServiceScopeFactory scopes,
    IOptions<ApiKeyOptions> options,
    TimeProvider time,
    ILogger<ApiKeyLastUsedFlushJob> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.LastUsedFlushSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: StopAsync flushes what is left.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await FlushAsync(cancellationToken);
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = lastUsed.Drain();
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            foreach (var (keyId, at) in batch)
            {
                await db.ApiKeys
                    .Where(k => k.Id == keyId && (k.LastUsedAt == null || k.LastUsedAt < at))
                    .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, at), cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A hint for humans, not a record of money: put the batch back and try at the next tick.
            foreach (var (keyId, at) in batch)
            {
                lastUsed.Record(keyId, at);
            }

            LogFlushFailed(logger, batch.Count, ex);
        }
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Warning, Message = "Could not write last_used_at for {Count} key(s); will retry")]
    private static partial void LogFlushFailed(ILogger logger, int count, Exception exception);
}
