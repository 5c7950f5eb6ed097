using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>How a test registers an upstream through the admin API; null fields are left out of the request.</summary>
internal sealed record ServerRegistration(
    string Name,
    string BaseUrl,
    IReadOnlyList<string> Models,
    string? ApiKey = null,
    int? Weight = null,
    int? Priority = null,
    bool? Enabled = null)
{
    public Dictionary<string, object?> ToJson()
    {
        var json = new Dictionary<string, object?> { ["name"] = Name, ["base_url"] = BaseUrl, ["supported_models"] = Models };
        if (ApiKey is not null)
        {
            json["api_key"] = ApiKey;
        }

        if (Weight is not null)
        {
            json["weight"] = Weight;
        }

        if (Priority is not null)
        {
            json["priority"] = Priority;
        }

        if (Enabled is not null)
        {
            json["enabled"] = Enabled;
        }

        return json;
    }
}

/// <summary>
/// The real gateway host on a real loopback socket (so streamed chunks and their timing are
/// observable), with an admin, a customer on the Enterprise plan (so plan limits never get in the
/// way of the proxy tests) and the customer's <c>bm_</c> key.
/// </summary>
internal sealed class GatewayServer
{
    public const string Model = "gpt-4o-mini";

    private GatewayServer(GatewayApp app, Uri baseAddress, SignedInUser admin, SignedInUser user, string key)
    {
        App = app;
        BaseAddress = baseAddress;
        Admin = admin;
        User = user;
        Key = key;
    }

    public GatewayApp App { get; }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Signed in as <c>admin@example.com</c> (in ADMIN_EMAILS).</summary>
    public SignedInUser Admin { get; }

    public SignedInUser User { get; }

    /// <summary>The customer's key, allowed every model.</summary>
    public string Key { get; }

    /// <summary>Settings that make failures quick to observe; a test adds or overrides its own.</summary>
    public static Dictionary<string, string?> Settings(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Upstreams:HealthCheckIntervalSeconds"] = "1",
            ["Upstreams:ResponseTimeoutSeconds"] = "5",
            ["Upstreams:StreamIdleTimeoutSeconds"] = "5",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>Starts the host on 127.0.0.1 with a free port and signs the admin and the customer up.</summary>
    public static async Task<GatewayServer> StartAsync(GatewayApp app)
    {
        app.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        app.StartServer();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? app.CreateClient().BaseAddress!.ToString();
        var baseAddress = new Uri(address.TrimEnd('/') + "/");

        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app);
        var plan = await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { plan = "enterprise" });
        Assert.Equal(HttpStatusCode.OK, plan.StatusCode);
        var (_, key) = await Accounts.CreateKeyAsync(user.Client);
        return new GatewayServer(app, baseAddress, admin, user, key);
    }

    /// <summary>
    /// A plain HTTP client on the real socket for the OpenAI routes, sending <paramref name="key"/> (the
    /// customer's key when null) as a bearer; an empty <paramref name="key"/> sends no Authorization at all.
    /// </summary>
    public HttpClient CreateKeyClient(string? key = null)
    {
        var client = App.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        if (key != string.Empty)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? Key);
        }

        return client;
    }

    /// <summary>The official OpenAI .NET SDK pointed at <c>/api/v1</c>, without retries.</summary>
    public OpenAIClient CreateOpenAiClient(string? key = null) =>
        new(new ApiKeyCredential(key ?? Key), new OpenAIClientOptions
        {
            Endpoint = new Uri(BaseAddress, "/api/v1"),
            NetworkTimeout = TimeSpan.FromSeconds(20),
            RetryPolicy = new ClientRetryPolicy(0),
        });

    /// <summary>Creates another key for the customer, e.g. with <c>allowed_models</c>.</summary>
    public async Task<string> CreateKeyAsync(params string[] allowedModels) =>
        (await Accounts.CreateKeyAsync(User.Client, extra: new { name = "restricted", allowed_models = allowedModels })).Key;

    /// <summary>Registers <paramref name="upstream"/> for <paramref name="models"/> (the default model when none) and waits until it is routable.</summary>
    public Task<Guid> AddServerAsync(FakeUpstream upstream, string[]? models = null, int? weight = null, int? priority = null, string? apiKey = null) =>
        AddServerAsync(new ServerRegistration(upstream.Name, upstream.BaseUrl, models ?? [Model], apiKey, weight, priority));

    /// <summary>
    /// Registers a server, asserting 201. With <paramref name="waitUntilRoutable"/> it then waits (for a
    /// few seconds at most, without failing) until its health check reported it healthy and its first
    /// model is listed by <c>/api/v1/models</c>, as the contract allows routing changes up to a second.
    /// </summary>
    public async Task<Guid> AddServerAsync(ServerRegistration registration, bool waitUntilRoutable = true)
    {
        var response = await Admin.Client.PostAsJsonAsync(Url("/api/admin/servers"), registration.ToJson());
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Registering {registration.Name} answered {(int)response.StatusCode}: {text}");
        using var body = JsonDocument.Parse(text);
        var id = body.RootElement.GetProperty("id").GetGuid();
        if (waitUntilRoutable && registration.Enabled != false)
        {
            await WaitForHealthAsync(id, "healthy", TimeSpan.FromSeconds(4));
            await WaitForModelAsync(registration.Models[0], TimeSpan.FromSeconds(2));
        }

        return id;
    }

    public async Task<JsonElement> HealthAsync(Guid id)
    {
        var response = await Admin.Client.GetAsync(Url($"/api/admin/servers/{id}/health"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    /// <summary>Polls the server's health until its <c>status</c> is <paramref name="status"/>; false on timeout.</summary>
    public async Task<bool> WaitForHealthAsync(Guid id, string status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await Admin.Client.GetAsync(Url($"/api/admin/servers/{id}/health"));
            if (response.IsSuccessStatusCode)
            {
                var health = await JsonAsync(response);
                if (health.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() == status)
                {
                    return true;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Polls <c>/api/v1/models</c> until <paramref name="model"/> is listed; false on timeout.</summary>
    public async Task<bool> WaitForModelAsync(string model, TimeSpan timeout)
    {
        var client = CreateKeyClient();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var response = await client.GetAsync(Url("/api/v1/models"));
            if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains($"\"{model}\"", StringComparison.Ordinal))
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>A chat request body (JSON text) for <paramref name="model"/>.</summary>
    public static string ChatBody(string model = Model, bool stream = false) =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["messages"] = new[] { new { role = "user", content = "Say hello" } },
            ["stream"] = stream,
        });

    public static StringContent JsonContent(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Sends a non-streamed chat completion with the customer's key (or <paramref name="client"/>).</summary>
    public async Task<HttpResponseMessage> ChatAsync(string model = Model, HttpClient? client = null, string path = "/api/v1/chat/completions") =>
        await (client ?? CreateKeyClient()).PostAsync(Url(path), JsonContent(ChatBody(model)));

    /// <summary>Sends a chat completion and returns the assistant's content, asserting 200.</summary>
    public async Task<string> ChatContentAsync(HttpClient client, string model = Model)
    {
        var response = await ChatAsync(model, client);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        using var body = JsonDocument.Parse(text);
        return body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }
}
