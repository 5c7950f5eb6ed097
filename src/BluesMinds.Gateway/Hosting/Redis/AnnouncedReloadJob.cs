namespace BluesMinds.Gateway.Hosting.Redis;

/// <summary>
/// Keeps an in-memory snapshot fresh on every instance: reloads it at start, every
/// <see cref="Interval"/> as a backstop, and at once when another instance announces a change on
/// <see cref="Channel"/> (when Redis is configured). A failed reload keeps the previous snapshot.
/// </summary>
internal abstract class AnnouncedReloadJob(TimeProvider time, RedisConnection? redis) : BackgroundService
{
    protected abstract string Channel { get; }

    protected abstract TimeSpan Interval { get; }

    protected abstract Task ReloadAsync(CancellationToken cancellationToken);

    /// <summary>Logs a failed reload or subscription; the previous snapshot keeps serving.</summary>
    protected abstract void OnReloadFailed(Exception exception);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (redis is not null && await redis.TrySubscribeAsync(Channel, _ => ReloadQuietlyAsync(stoppingToken), stoppingToken) is { } failure)
        {
            OnReloadFailed(failure);
        }

        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            await ReloadQuietlyAsync(stoppingToken);
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task ReloadQuietlyAsync(CancellationToken stoppingToken)
    {
        try
        {
            await ReloadAsync(stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            OnReloadFailed(ex);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
