using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>A client that goes away, or an upstream that stalls, ends the upstream request too.</summary>
public sealed class CancellationTests
{
    [Fact]
    public async Task ClientDisconnect_WhileTheUpstreamHangs_CancelsTheUpstreamRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        // Long gateway timeouts: only the client's disconnect can end the upstream request here.
        await using var app = new GatewayApp(database, Settings(("Upstreams:ResponseTimeoutSeconds", "60")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        upstream.Hang();
        using var cancel = new CancellationTokenSource();

        var call = gateway.CreateKeyClient().PostAsync(Url("/api/v1/chat/completions"), JsonContent(ChatBody()), cancel.Token);
        Assert.True(await upstream.WaitForRequestsAsync(FakeUpstream.ChatPath, 1, TimeSpan.FromSeconds(5)), "the request never reached the upstream");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(3)), "the upstream request was not cancelled after the client left");
        Assert.Equal(1, upstream.ChatCount);
    }

    [Fact]
    public async Task ClientDisconnect_MidStream_CancelsTheUpstreamRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Upstreams:StreamIdleTimeoutSeconds", "60")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        upstream.StreamSlowly(chunks: 100, chunkDelay: TimeSpan.FromMilliseconds(100));
        var client = gateway.CreateKeyClient();

        using (var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) })
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await foreach (var data in OpenAiWire.ReadEventsAsync(response))
            {
                Assert.Contains(upstream.ChunkText(0), data, StringComparison.Ordinal);
                break;
            }
        }

        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(3)), "the upstream stream was not cancelled after the client left");
        Assert.Equal(0, upstream.StreamsCompleted);
        Assert.True(upstream.ChunksSent < 60, $"the upstream kept streaming: {upstream.ChunksSent} chunks");
    }

    [Fact]
    public async Task StreamIdleTimeout_UpstreamStallsMidStream_EndsTheStreamWithAnErrorAndCancelsTheUpstream()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Upstreams:StreamIdleTimeoutSeconds", "1")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        upstream.StreamSlowly(chunks: 3, chunkDelay: TimeSpan.FromSeconds(30));

        var stopwatch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) };
        using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await OpenAiWire.ReadAllEventsAsync(response);
        stopwatch.Stop();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(8), $"the stream stayed open {stopwatch.Elapsed}");
        Assert.Equal(upstream.ChunkText(0), OpenAiWire.StreamedContent(events));
        using (var last = JsonDocument.Parse(events[^1]))
        {
            Assert.True(last.RootElement.TryGetProperty("error", out _), $"the stream did not end with an error event: {string.Join(" | ", events)}");
        }

        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(3)), "the stalled upstream stream was not cancelled");
    }
}
