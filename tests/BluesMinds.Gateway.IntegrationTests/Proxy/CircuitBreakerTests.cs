using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>Repeated failures take a server out of rotation for a while; a single one does not.</summary>
public sealed class CircuitBreakerTests
{
    private static Dictionary<string, string?> CircuitSettings() => Settings(
        ("Upstreams:CircuitFailureThreshold", "3"),
        ("Upstreams:CircuitBreakSeconds", "3"));

    /// <summary>The circuit's state: the value itself when it is text, its <c>state</c> member when it is an object.</summary>
    private static string CircuitState(JsonElement health)
    {
        var circuit = health.GetProperty("circuit");
        return circuit.ValueKind == JsonValueKind.Object && circuit.TryGetProperty("state", out var state) ? state.ToString() : circuit.ToString();
    }

    [Fact]
    public async Task CircuitBreaker_RepeatedFailures_TakeTheServerOutAndAProbeLetsItBackWhenHealthy()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, CircuitSettings());
        var gateway = await StartAsync(app);
        var primaryId = await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        var client = gateway.CreateKeyClient();
        var closedCircuit = CircuitState(await gateway.HealthAsync(primaryId));
        primary.RespondWithStatus(500);

        // Every request still succeeds through the backup while the primary fails.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(backup.AnswerText, await gateway.ChatContentAsync(client));
        }

        var failuresSeen = primary.ChatCount;
        var openCircuit = CircuitState(await gateway.HealthAsync(primaryId));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(backup.AnswerText, await gateway.ChatContentAsync(client));
        }

        Assert.InRange(failuresSeen, 3, 5);
        Assert.Equal(failuresSeen, primary.ChatCount);
        Assert.NotEqual(closedCircuit, openCircuit);

        // Healthy again: after the cool-down the primary gets traffic back, and keeps it.
        primary.RespondNormally();
        var recovered = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!recovered && DateTime.UtcNow < deadline)
        {
            recovered = await gateway.ChatContentAsync(client) == primary.AnswerText;
            await Task.Delay(100);
        }

        Assert.True(recovered, $"the primary never got traffic back; its circuit: {(await gateway.HealthAsync(primaryId)).GetProperty("circuit")}");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(primary.AnswerText, await gateway.ChatContentAsync(client));
        }

        Assert.Equal(closedCircuit, CircuitState(await gateway.HealthAsync(primaryId)));
    }

    [Fact]
    public async Task CircuitBreaker_StillFailingAfterTheCoolDown_StaysOut()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, CircuitSettings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        var client = gateway.CreateKeyClient();
        primary.RespondWithStatus(500);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(backup.AnswerText, await gateway.ChatContentAsync(client));
        }

        var afterOpening = primary.ChatCount;

        // Past the cool-down, a still-failing server gets a probe (or at most a threshold's worth of
        // requests), not the traffic.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(4.5);
        var sent = 0;
        while (DateTime.UtcNow < deadline)
        {
            Assert.Equal(backup.AnswerText, await gateway.ChatContentAsync(client));
            sent++;
            await Task.Delay(50);
        }

        Assert.True(sent >= 20, $"only {sent} requests were sent");
        Assert.InRange(primary.ChatCount - afterOpening, 0, 6);
    }

    [Fact]
    public async Task CircuitBreaker_OneError_DoesNotRemoveTheServer()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, CircuitSettings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        var client = gateway.CreateKeyClient();
        primary.FailNext(1, 500);

        var first = await gateway.ChatContentAsync(client);
        var second = await gateway.ChatContentAsync(client);
        var third = await gateway.ChatContentAsync(client);

        Assert.Equal(backup.AnswerText, first);
        Assert.Equal(primary.AnswerText, second);
        Assert.Equal(primary.AnswerText, third);
        Assert.Equal(3, primary.ChatCount);
        Assert.Equal(1, backup.ChatCount);
    }

    [Fact]
    public async Task CircuitBreaker_FailuresBelowTheThreshold_AreForgottenAfterASuccess()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, CircuitSettings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        var client = gateway.CreateKeyClient();

        // Two failures, a success, two failures: never three in a row, so the primary stays in.
        primary.FailNext(2, 500);
        await gateway.ChatContentAsync(client);
        await gateway.ChatContentAsync(client);
        Assert.Equal(primary.AnswerText, await gateway.ChatContentAsync(client));
        primary.FailNext(2, 500);
        await gateway.ChatContentAsync(client);
        await gateway.ChatContentAsync(client);
        var afterward = await gateway.ChatContentAsync(client);

        Assert.Equal(primary.AnswerText, afterward);
        Assert.Equal(6, primary.ChatCount);
        Assert.Equal(4, backup.ChatCount);
    }
}
