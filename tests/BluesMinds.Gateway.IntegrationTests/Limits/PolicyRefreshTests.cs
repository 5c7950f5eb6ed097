using System.Data.Common;
using System.Net;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.Limits;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

public sealed class PolicyRefreshTests
{
    [Fact]
    public async Task A_policy_due_for_its_refresh_is_served_while_the_refresh_reads_beside_the_request()
    {
        var start = DateTimeOffset.UtcNow;
        Assert.SkipWhen(start.AddMinutes(3).Month != start.Month, "A new quota period begins within the test's minute; its first request must wait for the period's seed.");
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        var time = new FakeTimeProvider(start);
        using var reads = new HeldLimitReads();
        await using var app = new GatewayApp(database, Settings(), services: s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.ConfigureDbContext<SqliteGatewayDbContext>(o => o.AddInterceptors(reads));
            s.ConfigureDbContext<PostgresGatewayDbContext>(o => o.AddInterceptors(reads));
        });
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient((await CreateKeyAsync(gateway.User.Client, extra: new { name = "refresh" })).Key);
        Assert.Equal(HttpStatusCode.OK, (await gateway.ChatAsync(client: client)).StatusCode);

        // SQLite answers EF Core's async reads synchronously on the calling thread; the held read
        // stands for a slow one. Started on the request's thread, it would hold the request too.
        reads.Hold();
        try
        {
            time.Advance(LimitPolicySource.Lifetime + TimeSpan.FromSeconds(1));
            var response = await gateway.ChatAsync(client: client).WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (reads.Held == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, TestContext.Current.CancellationToken);
            }

            Assert.True(reads.Held > 0, "the due policy was never re-read");
        }
        finally
        {
            reads.Release();
        }
    }

    /// <summary>While held, blocks every read of <c>rate_limits</c> on the thread that runs it, as a slow SQLite read does.</summary>
    private sealed class HeldLimitReads : DbCommandInterceptor, IDisposable
    {
        private readonly ManualResetEventSlim _open = new(initialState: true);
        private int _held;

        public int Held => Volatile.Read(ref _held);

        public void Hold() => _open.Reset();

        public void Release() => _open.Set();

        public void Dispose() => _open.Dispose();

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (!_open.IsSet && command.CommandText.Contains("rate_limits", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _held);
                _open.Wait(TimeSpan.FromSeconds(30), CancellationToken.None);
            }

            return ValueTask.FromResult(result);
        }
    }
}
