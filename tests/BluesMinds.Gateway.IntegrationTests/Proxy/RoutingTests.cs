using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>Which server gets a request: priority, weight, health, and admin changes taking effect.</summary>
public sealed class RoutingTests
{
    [Fact]
    public async Task Routing_TwoServersWeighted75And25_SplitsTrafficByWeight()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var heavy = await FakeUpstream.StartAsync("heavy");
        await using var light = await FakeUpstream.StartAsync("light");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(heavy, weight: 75);
        await gateway.AddServerAsync(light, weight: 25);
        var client = gateway.CreateKeyClient();
        var statuses = new ConcurrentBag<HttpStatusCode>();

        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, _) =>
        {
            using var response = await gateway.ChatAsync(client: client);
            statuses.Add(response.StatusCode);
        });

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(400, heavy.ChatCount + light.ChatCount);
        Assert.InRange(heavy.ChatCount, 240, 360);
    }

    [Fact]
    public async Task Routing_LowerPriorityNumber_TakesAllTrafficWhileItIsHealthy()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1, weight: 1);
        await gateway.AddServerAsync(backup, priority: 2, weight: 1000);
        var client = gateway.CreateKeyClient();

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(primary.AnswerText, await gateway.ChatContentAsync(client));
        }

        Assert.Equal(20, primary.ChatCount);
        Assert.Equal(0, backup.ChatCount);
    }

    [Fact]
    public async Task Routing_UnhealthyServer_GetsNoTraffic()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var sick = await FakeUpstream.StartAsync("sick");
        await using var backup = await FakeUpstream.StartAsync("backup");
        sick.SetHealth(503);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var sickId = await gateway.AddServerAsync(new ServerRegistration("sick", sick.BaseUrl, [Model], Priority: 1), waitUntilRoutable: false);
        await gateway.AddServerAsync(backup, priority: 2);
        Assert.True(await gateway.WaitForHealthAsync(sickId, "unhealthy", TimeSpan.FromSeconds(5)));
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var client = gateway.CreateKeyClient();

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(backup.AnswerText, await gateway.ChatContentAsync(client));
        }

        Assert.Equal(0, sick.ChatCount);
    }

    [Fact]
    public async Task Routing_ServerDisabledInTheAdminApi_StopsReceivingTraffic()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await FakeUpstream.StartAsync("first");
        await using var second = await FakeUpstream.StartAsync("second");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var firstId = await gateway.AddServerAsync(first);
        await gateway.AddServerAsync(second);
        var client = gateway.CreateKeyClient();
        await SendAsync(gateway, client, 30);
        Assert.True(first.ChatCount > 0 && second.ChatCount > 0, $"traffic was not shared before the change: {first.ChatCount}/{second.ChatCount}");

        var patch = await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{firstId}"), new { enabled = false });
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = first.ChatCount;
        await SendAsync(gateway, client, 20);

        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(before, first.ChatCount);
    }

    [Fact]
    public async Task Routing_ServerDeletedInTheAdminApi_StopsReceivingTraffic()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await FakeUpstream.StartAsync("first");
        await using var second = await FakeUpstream.StartAsync("second");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var firstId = await gateway.AddServerAsync(first);
        await gateway.AddServerAsync(second);
        var client = gateway.CreateKeyClient();
        await SendAsync(gateway, client, 30);
        Assert.True(first.ChatCount > 0 && second.ChatCount > 0, $"traffic was not shared before the change: {first.ChatCount}/{second.ChatCount}");

        var delete = await gateway.Admin.Client.DeleteAsync(Url($"/api/admin/servers/{firstId}"));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = first.ChatCount;
        await SendAsync(gateway, client, 20);

        Assert.True(delete.IsSuccessStatusCode, $"DELETE answered {(int)delete.StatusCode}");
        Assert.Equal(before, first.ChatCount);
    }

    [Fact]
    public async Task Routing_ServerAddedInTheAdminApi_ReceivesTrafficWithinASecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await FakeUpstream.StartAsync("first");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var client = gateway.CreateKeyClient();
        var before = await gateway.ChatAsync(client: client);

        await gateway.AddServerAsync(new ServerRegistration("first", first.BaseUrl, [Model]), waitUntilRoutable: false);
        var routable = await gateway.WaitForModelAsync(Model, TimeSpan.FromSeconds(3));
        var content = await gateway.ChatContentAsync(client);

        await OpenAiWire.AssertErrorAsync(before, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found", "model");
        Assert.True(routable, "the new server's model was never listed");
        Assert.Equal(first.AnswerText, content);
    }

    private static async Task SendAsync(GatewayServer gateway, HttpClient client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await gateway.ChatAsync(client: client);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}
