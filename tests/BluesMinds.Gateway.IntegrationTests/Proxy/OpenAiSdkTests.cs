using System.ClientModel;
using System.Text;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using OpenAI.Chat;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>The official OpenAI .NET SDK against the real host on a loopback port, in front of a fake upstream.</summary>
public sealed class OpenAiSdkTests
{
    private const string UpstreamSecret = "sk-upstream-Hx2Lw9Pq4Rt7Zn1Bc6Vm";

    [Fact]
    public async Task ChatCompletion_ThroughTheSdk_ReturnsTheUpstreamAnswerAndSendsTheServersKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(upstream, apiKey: UpstreamSecret);

        var completion = (await gateway.CreateOpenAiClient().GetChatClient(GatewayServer.Model).CompleteChatAsync(new UserChatMessage("Say hello"))).Value;

        Assert.Equal(upstream.AnswerText, completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(5, completion.Usage.InputTokenCount);
        Assert.Equal(7, completion.Usage.OutputTokenCount);
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.ChatPath));
        Assert.Equal($"Bearer {UpstreamSecret}", forwarded.Authorization);
        Assert.All(forwarded.Headers.Values, v => Assert.DoesNotContain(gateway.Key, v, StringComparison.Ordinal));
        Assert.DoesNotContain(gateway.Key, forwarded.Body, StringComparison.Ordinal);
        Assert.Equal(GatewayServer.Model, forwarded.Json!["model"]!.GetValue<string>());
        Assert.Equal("Say hello", forwarded.Json!["messages"]![0]!["content"]!.GetValue<string>());
    }

    [Fact]
    public async Task StreamingChatCompletion_ThroughTheSdk_ChunksArriveBeforeTheUpstreamFinished()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.StreamSlowly(chunks: 5, chunkDelay: TimeSpan.FromMilliseconds(300));
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var text = new StringBuilder();
        int? sentWhenFirstArrived = null;
        int? completedWhenFirstArrived = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in gateway.CreateOpenAiClient().GetChatClient(GatewayServer.Model).CompleteChatStreamingAsync([new UserChatMessage("Count to five")]))
        {
            foreach (var part in update.ContentUpdate)
            {
                if (sentWhenFirstArrived is null)
                {
                    sentWhenFirstArrived = upstream.ChunksSent;
                    completedWhenFirstArrived = upstream.StreamsCompleted;
                }

                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
        }

        Assert.Equal(upstream.StreamText(5), text.ToString());
        Assert.Equal(0, completedWhenFirstArrived);
        Assert.True(sentWhenFirstArrived <= 3, $"the first chunk reached the client only after the upstream had sent {sentWhenFirstArrived} of 5");
        Assert.Equal(1, upstream.StreamsCompleted);
        Assert.NotNull(usage);
        Assert.Equal(5, usage.InputTokenCount);
        Assert.Equal(5, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Embedding_ThroughTheSdk_ReturnsTheUpstreamVector()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(upstream, ["text-embedding-3-small"], apiKey: UpstreamSecret);

        var embedding = (await gateway.CreateOpenAiClient().GetEmbeddingClient("text-embedding-3-small").GenerateEmbeddingAsync("hello world")).Value;

        Assert.Equal([0.1f, 0.2f, 0.3f], embedding.ToFloats().ToArray());
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.EmbeddingsPath));
        Assert.Equal($"Bearer {UpstreamSecret}", forwarded.Authorization);
        Assert.Equal("text-embedding-3-small", forwarded.Json!["model"]!.GetValue<string>());
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ModelList_ThroughTheSdk_ListsTheModelsOfEnabledHealthyServersThatTheKeyMayUse()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await FakeUpstream.StartAsync("first");
        await using var second = await FakeUpstream.StartAsync("second");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(first, ["model-a", "model-b"]);
        await gateway.AddServerAsync(second, ["model-b", "model-c"]);
        await gateway.AddServerAsync(new ServerRegistration("disabled", "http://127.0.0.1:9", ["model-disabled"], Enabled: false), waitUntilRoutable: false);
        await gateway.AddServerAsync(new ServerRegistration("unreachable", FakeUpstream.UnusedBaseUrl(), ["model-unreachable"]), waitUntilRoutable: false);
        var restricted = await gateway.CreateKeyAsync("model-a", "model-c", "model-disabled");
        await WaitUntilUnhealthyAsync(gateway, "unreachable");

        var all = (await gateway.CreateOpenAiClient().GetOpenAIModelClient().GetModelsAsync()).Value;
        var allowed = (await gateway.CreateOpenAiClient(restricted).GetOpenAIModelClient().GetModelsAsync()).Value;

        Assert.Equal(["model-a", "model-b", "model-c"], all.Select(m => m.Id).Order());
        Assert.Equal(["model-a", "model-c"], allowed.Select(m => m.Id).Order());
    }

    [Fact]
    public async Task Errors_ThroughTheSdk_SurfaceAsClientResultExceptionsWithTheStatus()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(upstream, [GatewayServer.Model, "broken-model"]);
        var restricted = await gateway.CreateKeyAsync("other-model");
        var message = new UserChatMessage("hi");

        var unknownKey = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.CreateOpenAiClient("bm_" + new string('A', 43)).GetChatClient(GatewayServer.Model).CompleteChatAsync(message));
        var notAllowed = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.CreateOpenAiClient(restricted).GetChatClient(GatewayServer.Model).CompleteChatAsync(message));
        var unknownModel = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.CreateOpenAiClient().GetChatClient("no-such-model").CompleteChatAsync(message));
        upstream.RespondWithStatus(400, """{"error":{"message":"bad things","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""");
        var upstreamError = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.CreateOpenAiClient().GetChatClient(GatewayServer.Model).CompleteChatAsync(message));
        upstream.RespondWithStatus(500);
        var badGateway = await Assert.ThrowsAsync<ClientResultException>(() =>
            gateway.CreateOpenAiClient().GetChatClient(GatewayServer.Model).CompleteChatAsync(message));

        Assert.Equal(401, unknownKey.Status);
        Assert.Equal(403, notAllowed.Status);
        Assert.Equal(404, unknownModel.Status);
        Assert.Equal(400, upstreamError.Status);
        Assert.Contains("context_length_exceeded", upstreamError.Message, StringComparison.Ordinal);
        Assert.Equal(502, badGateway.Status);
    }

    private static async Task WaitUntilUnhealthyAsync(GatewayServer gateway, string name)
    {
        var list = await Accounts.JsonAsync(await gateway.Admin.Client.GetAsync(Accounts.Url("/api/admin/servers")));
        var id = list.GetProperty("data").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name).GetProperty("id").GetGuid();
        await gateway.WaitForHealthAsync(id, "unhealthy", TimeSpan.FromSeconds(5));
    }
}
