using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>What the gateway sends upstream and passes back, over plain HTTP on the real socket.</summary>
public sealed class ForwardingTests
{
    private const string RichChatBody = """
        {"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Grüße ✓ \"quoted\""}],
         "temperature":0.25,"max_tokens":64,"n":2,"user":"customer-1","x_vendor":{"a":[1,2,{"b":null}]}}
        """;

    [Fact]
    public async Task ChatCompletion_NonStreaming_ForwardsTheBodyUnchangedAndReturnsTheUpstreamJson()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var response = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/chat/completions"), JsonContent(RichChatBody));
        var answer = await JsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("chat.completion", answer.GetProperty("object").GetString());
        Assert.Equal(upstream.AnswerText, answer.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(12, answer.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.ChatPath));
        Assert.Equal("POST", forwarded.Method);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(RichChatBody), forwarded.Json), $"forwarded body differs: {forwarded.Body}");
    }

    [Fact]
    public async Task ChatCompletion_Streaming_AddsIncludeUsageUpstreamAndPassesTheEventsThrough()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var sent = JsonNode.Parse(RichChatBody)!.AsObject();
        sent["stream"] = true;

        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = JsonContent(sent.ToJsonString()) };
        using var response = await gateway.CreateKeyClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await OpenAiWire.ReadAllEventsAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(upstream.StreamText(3), OpenAiWire.StreamedContent(events));
        Assert.Equal("[DONE]", events[^1]);
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.ChatPath)).Json!.AsObject();
        Assert.True(forwarded["stream_options"]?["include_usage"]?.GetValue<bool>(), $"include_usage not added: {forwarded.ToJsonString()}");
        forwarded.Remove("stream_options");
        Assert.True(JsonNode.DeepEquals(sent, forwarded), $"forwarded body differs beyond stream_options: {forwarded.ToJsonString()}");
    }

    [Fact]
    public async Task Embeddings_ForwardsTheBodyUnchangedAndReturnsEveryVector()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, ["text-embedding-3-small"]);
        const string body = """{"model":"text-embedding-3-small","input":["one","two"],"encoding_format":"float","dimensions":3}""";

        var response = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/embeddings"), JsonContent(body));
        var answer = await JsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, answer.GetProperty("data").GetArrayLength());
        Assert.Equal(0.2, answer.GetProperty("data")[1].GetProperty("embedding")[1].GetDouble());
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.EmbeddingsPath));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(body), forwarded.Json), $"forwarded body differs: {forwarded.Body}");
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task V1Alias_ChatEmbeddingsAndModels_AnswerLikeApiV1()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, "text-embedding-3-small"]);
        var client = gateway.CreateKeyClient();

        var chat = await gateway.ChatAsync(client: client, path: "/v1/chat/completions");
        var embeddings = await client.PostAsync(Url("/v1/embeddings"), JsonContent("""{"model":"text-embedding-3-small","input":"one"}"""));
        var models = await client.GetAsync(Url("/v1/models"));
        var unauthenticated = await gateway.CreateKeyClient(string.Empty).GetAsync(Url("/v1/models"));

        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal(upstream.AnswerText, (await JsonAsync(chat)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(HttpStatusCode.OK, embeddings.StatusCode);
        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        var list = await JsonAsync(models);
        Assert.Equal("list", list.GetProperty("object").GetString());
        Assert.Equal([Model, "text-embedding-3-small"], list.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).Order());
        Assert.All(list.GetProperty("data").EnumerateArray(), m => Assert.Equal("model", m.GetProperty("object").GetString()));
        await OpenAiWire.AssertErrorAsync(unauthenticated, HttpStatusCode.Unauthorized, OpenAiWire.Any, "invalid_api_key");
        Assert.Equal(1, upstream.ChatCount);
        Assert.Equal(1, upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task ChatCompletion_ServerWithoutApiKey_SendsNoAuthorizationAndNeverTheClientKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var content = await gateway.ChatContentAsync(gateway.CreateKeyClient());

        Assert.Equal(upstream.AnswerText, content);
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.ChatPath));
        Assert.Null(forwarded.Authorization);
        Assert.All(forwarded.Headers.Values, v => Assert.DoesNotContain(gateway.Key, v, StringComparison.Ordinal));
        Assert.All(forwarded.Headers.Values, v => Assert.DoesNotContain(gateway.Key[7..], v, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PatchServerApiKey_TheNextRequestCarriesTheNewKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var id = await gateway.AddServerAsync(upstream, apiKey: "sk-old-key-000000000000");
        var client = gateway.CreateKeyClient();
        await gateway.ChatContentAsync(client);

        var patch = await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { api_key = "sk-new-key-111111111111" });
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await gateway.ChatContentAsync(client);

        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(["Bearer sk-old-key-000000000000", "Bearer sk-new-key-111111111111"], upstream.RequestsTo(FakeUpstream.ChatPath).Select(r => r.Authorization));
    }

    [Fact]
    public async Task UpstreamClientError_IsPassedThroughUnchangedWithoutFailover()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var primary = await FakeUpstream.StartAsync("primary");
        await using var backup = await FakeUpstream.StartAsync("backup");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(primary, priority: 1);
        await gateway.AddServerAsync(backup, priority: 2);
        const string error = """{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}""";
        var client = gateway.CreateKeyClient();

        foreach (var status in new[] { 400, 404, 422 })
        {
            primary.RespondWithStatus(status, error);

            var response = await gateway.ChatAsync(client: client);

            Assert.Equal(status, (int)response.StatusCode);
            Assert.Equal(error, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(3, primary.ChatCount);
        Assert.Equal(0, backup.ChatCount);

        // Client errors say nothing about the server's health: it still takes the traffic.
        primary.RespondNormally();
        Assert.Equal(primary.AnswerText, await gateway.ChatContentAsync(client));
    }

    [Fact]
    public async Task ModelAlias_IsListedAndMappedToTheUpstreamName()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Upstreams:Aliases:gpt-4", Model)));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();

        var models = await JsonAsync(await client.GetAsync(Url("/api/v1/models")));
        var response = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent("""{"model":"gpt-4","messages":[{"role":"user","content":"hi"}],"temperature":0}"""));

        Assert.Contains("gpt-4", models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var forwarded = Assert.Single(upstream.RequestsTo(FakeUpstream.ChatPath)).Json!.AsObject();
        Assert.Equal(Model, forwarded["model"]!.GetValue<string>());
        Assert.Equal(0, forwarded["temperature"]!.GetValue<int>());
    }
}
