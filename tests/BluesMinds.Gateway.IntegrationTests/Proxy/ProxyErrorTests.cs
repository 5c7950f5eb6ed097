using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>Every error of the OpenAI-compatible routes, with its exact status and envelope.</summary>
public sealed class ProxyErrorTests
{
    [Fact]
    public async Task MissingOrUnknownKey_Returns401InvalidApiKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, "text-embedding-3-small"]);
        var client = gateway.CreateKeyClient(string.Empty);
        // Authorization header values; empty for none.
        string[] authorizations = [string.Empty, "Bearer", "Bearer not-a-key", "Bearer bm_" + new string('A', 43), "Bearer " + gateway.Key[..^1], "Basic dXNlcjpwYXNz"];
        (HttpMethod Method, string Path, string? Body)[] routes =
        [
            (HttpMethod.Post, "/api/v1/chat/completions", ChatBody()),
            (HttpMethod.Post, "/api/v1/embeddings", """{"model":"text-embedding-3-small","input":"x"}"""),
            (HttpMethod.Get, "/api/v1/models", null),
            (HttpMethod.Post, "/v1/chat/completions", ChatBody()),
        ];

        foreach (var authorization in authorizations)
        {
            foreach (var (method, path, body) in routes)
            {
                using var request = new HttpRequestMessage(method, Url(path)) { Content = body is null ? null : JsonContent(body) };
                if (authorization.Length > 0)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", authorization);
                }

                var response = await client.SendAsync(request);

                await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.Unauthorized, OpenAiWire.Any, "invalid_api_key", context: $"{method} {path} with '{authorization}'");
            }
        }

        Assert.Equal(0, upstream.ChatCount + upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task ChatCompletion_RevokedKey_Returns401InvalidApiKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var (id, key) = await CreateKeyAsync(gateway.User.Client, "to revoke");
        var client = gateway.CreateKeyClient(key);
        Assert.Equal(upstream.AnswerText, await gateway.ChatContentAsync(client));

        var revoke = await gateway.User.Client.DeleteAsync(Url($"/api/keys/{id}"));
        var response = await gateway.ChatAsync(client: client);

        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.Unauthorized, OpenAiWire.Any, "invalid_api_key");
        Assert.Equal(1, upstream.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_ModelNotInTheKeysAllowedModels_Returns403ModelNotAllowed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, "text-embedding-3-small"]);
        var restricted = gateway.CreateKeyClient(await gateway.CreateKeyAsync("text-embedding-3-small"));

        var chat = await gateway.ChatAsync(client: restricted);
        var embeddings = await restricted.PostAsync(Url("/api/v1/embeddings"), JsonContent("""{"model":"text-embedding-3-small","input":"ok"}"""));

        await OpenAiWire.AssertErrorAsync(chat, HttpStatusCode.Forbidden, "permission_error", "model_not_allowed");
        Assert.Equal(HttpStatusCode.OK, embeddings.StatusCode);
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_ModelNoServerLists_Returns404ModelNotFound()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var chat = await gateway.ChatAsync("no-such-model");
        var embeddings = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/embeddings"), JsonContent("""{"model":"no-such-model","input":"x"}"""));

        await OpenAiWire.AssertErrorAsync(chat, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found", "model");
        await OpenAiWire.AssertErrorAsync(embeddings, HttpStatusCode.NotFound, "invalid_request_error", "model_not_found", "model");
        Assert.Empty(upstream.RequestsTo(FakeUpstream.ChatPath).Concat(upstream.RequestsTo(FakeUpstream.EmbeddingsPath)));
    }

    [Fact]
    public async Task ChatCompletion_InvalidRequest_Returns400NamingTheParam()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();
        (string Body, string Param)[] cases =
        [
            ("""{"messages":[{"role":"user","content":"hi"}]}""", "model"),
            ("""{"model":"","messages":[{"role":"user","content":"hi"}]}""", "model"),
            ("""{"model":42,"messages":[{"role":"user","content":"hi"}]}""", "model"),
            ("""{"model":"gpt-4o-mini"}""", "messages"),
            ("""{"model":"gpt-4o-mini","messages":"hi"}""", "messages"),
            ("""{"model":"gpt-4o-mini","messages":{"role":"user","content":"hi"}}""", "messages"),
            ("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":0}""", "n"),
            ("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"n":129}""", "n"),
            ("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens"),
            ("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":"yes"}""", "stream"),
        ];

        foreach (var (body, param) in cases)
        {
            var response = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent(body));

            await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", param: param, context: body);
        }

        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task Embeddings_MissingModel_Returns400NamingTheParam()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, ["text-embedding-3-small"]);

        var response = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/embeddings"), JsonContent("""{"input":"hello"}"""));

        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", param: "model");
        Assert.Equal(0, upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task InvalidJson_Returns400InvalidJson()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, "text-embedding-3-small"]);
        var client = gateway.CreateKeyClient();

        foreach (var path in new[] { "/api/v1/chat/completions", "/api/v1/embeddings", "/v1/chat/completions" })
        {
            var response = await client.PostAsync(Url(path), JsonContent("""{"model":"gpt-4o-mini","messages":[}"""));

            await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_json", context: path);
        }

        Assert.Equal(0, upstream.ChatCount + upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task LoneSurrogateEscape_IsForwarded_NotAServerError()
    {
        // "\ud800" alone is valid JSON that .NET will not decode into a string: the prompt is still
        // counted and the upstream decides.
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, "text-embedding-3-small"]);
        var client = gateway.CreateKeyClient();

        var chat = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi \ud800 there"}]}"""));
        var embeddings = await client.PostAsync(Url("/api/v1/embeddings"), JsonContent("""{"model":"text-embedding-3-small","input":["a \udc00"]}"""));

        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        Assert.Equal(HttpStatusCode.OK, embeddings.StatusCode);
        Assert.Equal(1, upstream.ChatCount);
        Assert.Equal(1, upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task ChatCompletion_DeclaredBodyOverTheLimit_Returns413()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("MAX_REQUEST_BODY_BYTES", "2048")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);

        var response = await gateway.CreateKeyClient().PostAsync(Url("/api/v1/chat/completions"), JsonContent(LargeChatBody()));

        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_ChunkedBodyOverTheLimit_Returns413()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("MAX_REQUEST_BODY_BYTES", "2048")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(LargeChatBody())));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/chat/completions")) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        var response = await gateway.CreateKeyClient().SendAsync(request);

        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request_error", "request_too_large");
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_EveryServerAnswers5xx_Returns502()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var first = await FakeUpstream.StartAsync("first");
        await using var second = await FakeUpstream.StartAsync("second");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(first, priority: 1);
        await gateway.AddServerAsync(second, priority: 2);
        first.RespondWithStatus(500);
        second.RespondWithStatus(503);

        var response = await gateway.ChatAsync();

        var error = await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.BadGateway, "server_error");
        Assert.DoesNotContain("fake upstream", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, first.ChatCount);
        Assert.Equal(1, second.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_EveryServerRefusesConnections_Returns502()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Upstreams:HealthCheckIntervalSeconds", "30")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(new ServerRegistration("alpha", upstream.BaseUrl, [Model]), waitUntilRoutable: false);
        await gateway.WaitForModelAsync(Model, TimeSpan.FromSeconds(2));
        await upstream.StopAsync();

        var response = await gateway.ChatAsync();

        // The dead server may already be known as unhealthy (503) or be met by the request (502).
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable });
        await OpenAiWire.AssertErrorAsync(response, response.StatusCode, "server_error");
    }

    [Fact]
    public async Task ChatCompletion_NoHealthyServerForAListedModel_Returns503()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.SetHealth(503);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("alpha", upstream.BaseUrl, [Model]), waitUntilRoutable: false);
        Assert.True(await gateway.WaitForHealthAsync(id, "unhealthy", TimeSpan.FromSeconds(5)));
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        var response = await gateway.ChatAsync();

        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.ServiceUnavailable, "server_error");
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ChatCompletion_EveryServerTimesOut_Returns504()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings(("Upstreams:ResponseTimeoutSeconds", "1")));
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        upstream.Hang();

        var stopwatch = Stopwatch.StartNew();
        var response = await gateway.ChatAsync();
        stopwatch.Stop();

        await OpenAiWire.AssertErrorAsync(response, HttpStatusCode.GatewayTimeout, "server_error");
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"took {stopwatch.Elapsed}");
        Assert.True(await upstream.WaitForAbortAsync(TimeSpan.FromSeconds(3)), "the hung upstream request was never cancelled");
    }

    private static string LargeChatBody() =>
        $$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{new string('x', 4096)}}"}]}""";
}
