using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>Trying the next server when one fails before the client got a byte, and never after.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task Failover_FirstServerRefusesConnections_SucceedsOnTheSecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        // A slow health check, so that the request (not the checker) is what meets the dead server.
        await using var app = new GatewayApp(database, Settings(("Upstreams:HealthCheckIntervalSeconds", "30")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(new ServerRegistration("primary", primary.BaseUrl, [Model], Priority: 1), waitUntilRoutable: false);
        await gateway.AddServerAsync(new ServerRegistration("backup", backup.BaseUrl, [Model], Priority: 2), waitUntilRoutable: false);
        await gateway.WaitForModelAsync(Model, TimeSpan.FromSeconds(2));
        await primary.StopAsync();

        var stopwatch = Stopwatch.StartNew();
        var content = await gateway.ChatContentAsync(gateway.CreateKeyClient());

        Assert.Equal(backup.AnswerText, content);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        Assert.Equal(1, backup.ChatCount);
    }

    [Fact]
    public async Task Failover_FirstServerAnswersAServerErrorOrRateLimit_SucceedsOnTheSecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        // Four failures in a row stay below the circuit threshold, so each one reaches the primary.
        await using var app = new GatewayApp(database, Settings(("Upstreams:CircuitFailureThreshold", "10")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        var client = gateway.CreateKeyClient();
        var expected = 0;

        foreach (var status in new[] { 500, 502, 503, 429 })
        {
            primary.RespondWithStatus(status, retryAfter: status == 429 ? "1" : null);
            expected++;

            var content = await gateway.ChatContentAsync(client);

            Assert.True(content == backup.AnswerText, $"after {status} the answer was '{content}'");
            Assert.True(primary.ChatCount == expected, $"after {status} the primary had {primary.ChatCount} requests");
            Assert.True(backup.ChatCount == expected, $"after {status} the backup had {backup.ChatCount} requests");
        }
    }

    [Fact]
    public async Task Failover_FirstServerHangs_TimesOutCancelsItAndSucceedsOnTheSecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings(("Upstreams:ResponseTimeoutSeconds", "1")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        primary.Hang();

        var stopwatch = Stopwatch.StartNew();
        var content = await gateway.ChatContentAsync(gateway.CreateKeyClient());
        stopwatch.Stop();

        Assert.Equal(backup.AnswerText, content);
        Assert.Equal(1, primary.ChatCount);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {stopwatch.Elapsed}, before the timeout");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
        Assert.True(await primary.WaitForAbortAsync(TimeSpan.FromSeconds(3)), "the hung upstream request was never cancelled");
    }

    [Fact]
    public async Task Failover_StreamFirstServerFailsBeforeAnyByte_StreamsFromTheSecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        primary.RespondWithStatus(500);

        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) };
        using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await OpenAiWire.ReadAllEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(backup.StreamText(3), OpenAiWire.StreamedContent(events));
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(1, primary.ChatCount);
    }

    [Fact]
    public async Task Failover_EmbeddingsFirstServerFails_SucceedsOnTheSecond()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, ["text-embedding-3-small"], priority: 1);
        await gateway.AddServerAsync(backup, ["text-embedding-3-small"], priority: 2);
        primary.RespondWithStatus(503);

        var response = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/embeddings"), JsonContent("""{"model":"text-embedding-3-small","input":"one"}"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, primary.EmbeddingsCount);
        Assert.Equal(1, backup.EmbeddingsCount);
    }

    [Fact]
    public async Task NoFailover_OnceBytesWereSent_TheStreamEndsWithAnErrorEventAndTheSecondServerGetsNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        primary.DropConnectionAfter(2);

        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) };
        using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await OpenAiWire.ReadAllEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(primary.ChunkText(0) + primary.ChunkText(1), OpenAiWire.StreamedContent(events));
        Assert.NotEmpty(events);
        using (var last = JsonDocument.Parse(events[^1]))
        {
            Assert.True(last.RootElement.TryGetProperty("error", out var error), $"the stream did not end with an error event: {string.Join(" | ", events)}");
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        }

        Assert.DoesNotContain("[DONE]", events);
        Assert.Equal(1, primary.ChatCount);
        Assert.Equal(0, backup.ChatCount);
    }
}
