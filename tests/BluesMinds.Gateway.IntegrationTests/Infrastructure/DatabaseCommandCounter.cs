using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>
/// Counts the SQL commands one test host sends (attached to its contexts by <see cref="GatewayApp"/>),
/// and can hold them at their start, for tests that must observe work while it is in flight.
/// </summary>
internal sealed class DatabaseCommandCounter : DbCommandInterceptor
{
    // Long enough for any test step, short enough that a test which wrongly waits on a held command
    // fails on its assertions instead of hanging the run.
    private static readonly TimeSpan LongestHold = TimeSpan.FromSeconds(30);
    private int _count;
    private volatile TaskCompletionSource? _gate;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Every command waits at its start (after being counted) until the returned handle is disposed.</summary>
    public IDisposable Hold()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gate = gate;
        return new Release(this, gate);
    }

    public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        await CountAndWaitAsync(cancellationToken);
        return result;
    }

    public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        await CountAndWaitAsync(cancellationToken);
        return result;
    }

    public override async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        await CountAndWaitAsync(cancellationToken);
        return result;
    }

    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        CountAndWait();
        return result;
    }

    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        CountAndWait();
        return result;
    }

    private async ValueTask CountAndWaitAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        if (_gate is { } gate)
        {
            await gate.Task.WaitAsync(LongestHold, cancellationToken);
        }
    }

    private void CountAndWait()
    {
        Interlocked.Increment(ref _count);
        _gate?.Task.Wait(LongestHold);
    }

    private sealed class Release(DatabaseCommandCounter counter, TaskCompletionSource gate) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.CompareExchange(ref counter._gate, null, gate);
            gate.TrySetResult();
        }
    }
}
