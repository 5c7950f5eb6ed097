using System.Net;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>What the hot path hands to the usage layer: one usage_logs row per authenticated request.</summary>
public sealed class UsageSeamTests
{
    private static async Task<UsageLog> RowAsync(TestDatabase database, string requestId)
    {
        for (var i = 0; i < 100; i++)
        {
            await using var db = database.OpenContext();
            if (await db.UsageLogs.AsNoTracking().SingleOrDefaultAsync(u => u.RequestId == requestId) is { } row)
            {
                return row;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"no usage row for {requestId}");
    }

    [Fact]
    public async Task NonStreamedCompletion_RecordsTheUpstreamsUsage()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var serverId = await gateway.AddServerAsync(upstream);

        var response = await gateway.ChatAsync();
        var row = await RowAsync(database, response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((5, 7, 12, false, false), (row.PromptTokens, row.CompletionTokens, row.TotalTokens, row.TokensEstimated, row.Streamed));
        Assert.Equal((200, Model, Model, serverId), (row.StatusCode, row.ModelRequested, row.ModelServed, row.ServerId));
        Assert.Equal(gateway.User.Id, row.UserId);
        Assert.NotNull(row.ApiKeyId);
        Assert.Equal("chat.completions", row.Endpoint);
        Assert.False(row.ClientDisconnected);
    }

    [Fact]
    public async Task StreamedCompletion_RecordsUsageFromTheFinalChunk()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.RespondNormally(chunks: 4);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) };
        using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await OpenAiWire.ReadAllEventsAsync(response);
        var row = await RowAsync(database, response.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal((5, 4, false, true), (row.PromptTokens, row.CompletionTokens, row.TokensEstimated, row.Streamed));
        Assert.NotNull(row.TimeToFirstByteMs);
    }

    [Fact]
    public async Task ClientDisconnectMidStream_RecordsThePartialCountAndSaysSo()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.StreamSlowly(20, TimeSpan.FromMilliseconds(200));
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        string requestId;
        using (var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(ChatBody(stream: true)) })
        {
            using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            requestId = response.Headers.GetValues("X-Request-Id").Single();
            var seen = 0;
            await foreach (var _ in OpenAiWire.ReadEventsAsync(response))
            {
                if (++seen == 3)
                {
                    break;
                }
            }
        }

        var row = await RowAsync(database, requestId);

        Assert.True(row.ClientDisconnected);
        Assert.True(row.TokensEstimated);
        Assert.InRange(row.CompletionTokens, 1, 19 * 10);
        Assert.True(row.PromptTokens > 0);
        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task RefusedRequest_IsRecordedWithItsStatusAndUnauthenticatedOnesAreNot()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var unknownModel = await gateway.ChatAsync(model: "no-such-model");
        var anonymous = await app.CreateClient().PostAsync(Url("/api/v1/chat/completions"), JsonContent(ChatBody()));
        var row = await RowAsync(database, unknownModel.Headers.GetValues("X-Request-Id").Single());

        Assert.Equal((404, "model_not_found", "no-such-model"), (row.StatusCode, row.ErrorCode, row.ModelRequested));
        Assert.Equal(0, row.TotalTokens);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        await using var db = database.OpenContext();
        Assert.False(await db.UsageLogs.AnyAsync(u => u.RequestId == anonymous.Headers.GetValues("X-Request-Id").Single()));
    }
}
