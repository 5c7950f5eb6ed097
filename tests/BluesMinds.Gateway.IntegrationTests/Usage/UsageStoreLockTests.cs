using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.DependencyInjection;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// Another writer holding the database's write lock for a moment (the retention job, an admin
/// change) makes a usage batch wait for it, not fail: no retry, no warning, the batch lands once the
/// lock is released.
/// </summary>
public sealed class UsageStoreLockTests
{
    [Fact]
    public async Task ABatchWhileAnotherWriterHoldsTheLock_WaitsForIt_AndLandsWhenItIsReleased()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var store = app.Services.GetRequiredService<UsageStore>();
        await store.InsertAsync([Record("req_before")]);

        Task insert;
        await using (await HoldUsageWriteLockAsync(database))
        {
            insert = Task.Run(() => store.InsertAsync([Record("req_during")]));
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(insert.IsCompleted, "the batch went ahead of a held write lock");
        }

        await insert.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["req_before", "req_during"], (await LogsAsync(database)).Select(r => r.RequestId).Order(StringComparer.Ordinal));
    }

    private static UsageRecord Record(string requestId) => new()
    {
        RequestId = requestId,
        Endpoint = "chat.completions",
        UserId = Guid.NewGuid(),
        ApiKeyId = Guid.NewGuid(),
        ModelRequested = "gpt-4o-mini",
        StatusCode = 200,
        CreatedAt = DateTime.UtcNow,
    };
}
