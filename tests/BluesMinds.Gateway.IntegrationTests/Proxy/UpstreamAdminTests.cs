using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>The admin API for upstream servers: <c>/api/admin/servers</c>.</summary>
public sealed class UpstreamAdminTests
{
    private const string UpstreamSecret = "sk-upstream-Vq83hZr1LmX0pTd5Ke7w";

    [Fact]
    public async Task CreateServer_ValidInput_Returns201WithDefaultsAndWithoutTheApiKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);

        var create = await gateway.Admin.Client.PostAsJsonAsync(Url("/api/admin/servers"), new
        {
            name = "alpha",
            base_url = upstream.BaseUrl,
            api_key = UpstreamSecret,
            supported_models = new[] { "gpt-4o-mini", "text-embedding-3-small" },
        });
        var createText = await create.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        using var created = JsonDocument.Parse(createText);
        var server = created.RootElement;
        var id = server.GetProperty("id").GetGuid();
        Assert.Equal("alpha", server.GetProperty("name").GetString());
        Assert.Equal(upstream.BaseUrl, server.GetProperty("base_url").GetString()!.TrimEnd('/'));
        Assert.True(server.GetProperty("has_api_key").GetBoolean());
        Assert.Equal(100, server.GetProperty("weight").GetInt32());
        Assert.Equal(1, server.GetProperty("priority").GetInt32());
        Assert.True(server.GetProperty("enabled").GetBoolean());
        Assert.Equal(["gpt-4o-mini", "text-embedding-3-small"], server.GetProperty("supported_models").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(JsonValueKind.Object, server.GetProperty("health").ValueKind);
        Assert.Equal(JsonValueKind.String, server.GetProperty("created_at").ValueKind);
        Assert.Equal(JsonValueKind.String, server.GetProperty("updated_at").ValueKind);
        Assert.False(server.TryGetProperty("api_key", out _));

        var responses = new List<string> { createText };
        responses.Add(await (await gateway.Admin.Client.GetAsync(Url("/api/admin/servers"))).Content.ReadAsStringAsync());
        responses.Add(await (await gateway.Admin.Client.GetAsync(Url($"/api/admin/servers/{id}"))).Content.ReadAsStringAsync());
        responses.Add(await (await gateway.Admin.Client.GetAsync(Url($"/api/admin/servers/{id}/health"))).Content.ReadAsStringAsync());
        responses.Add(await (await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { weight = 50 })).Content.ReadAsStringAsync());
        Assert.All(responses, text => Assert.DoesNotContain(UpstreamSecret, text, StringComparison.Ordinal));
        Assert.All(responses, text => Assert.DoesNotContain(UpstreamSecret[3..], text, StringComparison.Ordinal));

        var rows = await database.QueryAsync("SELECT * FROM litellm_servers");
        var stored = string.Join("|", rows.SelectMany(r => r));
        Assert.Single(rows);
        Assert.DoesNotContain(UpstreamSecret[3..], stored, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(Encoding.UTF8.GetBytes(UpstreamSecret)), stored, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(UpstreamSecret)), stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateServer_WithoutApiKey_ReportsHasApiKeyFalseAndKeepsGivenFields()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);

        var create = await gateway.Admin.Client.PostAsJsonAsync(Url("/api/admin/servers"), new
        {
            name = "beta",
            base_url = "http://127.0.0.1:9",
            weight = 25,
            priority = 3,
            enabled = false,
            supported_models = new[] { "m1" },
        });

        Assert.Equal(HttpStatusCode.Created, create.StatusCode);
        var server = await JsonAsync(create);
        Assert.False(server.GetProperty("has_api_key").GetBoolean());
        Assert.Equal(25, server.GetProperty("weight").GetInt32());
        Assert.Equal(3, server.GetProperty("priority").GetInt32());
        Assert.False(server.GetProperty("enabled").GetBoolean());
        await using var db = database.OpenContext();
        var stored = await db.LitellmServers.SingleAsync();
        Assert.Null(stored.ApiKeyEncrypted);
        Assert.Equal(25, stored.Weight);
        Assert.Equal(3, stored.Priority);
        Assert.False(stored.Enabled);
    }

    [Fact]
    public async Task CreateServer_BadInput_Returns400NamingTheFieldAndStoresNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        (string Json, string Field)[] cases =
        [
            ("""{"base_url":"http://127.0.0.1:9","supported_models":["m"]}""", "name"),
            ("""{"name":"  ","base_url":"http://127.0.0.1:9","supported_models":["m"]}""", "name"),
            ("""{"name":"x","base_url":"ftp://127.0.0.1/","supported_models":["m"]}""", "base_url"),
            ("""{"name":"x","base_url":"not a url","supported_models":["m"]}""", "base_url"),
            ("""{"name":"x","supported_models":["m"]}""", "base_url"),
            ("""{"name":"x","base_url":"http://127.0.0.1:9","weight":-1,"supported_models":["m"]}""", "weight"),
            ("""{"name":"x","base_url":"http://127.0.0.1:9","priority":-1,"supported_models":["m"]}""", "priority"),
            ("""{"name":"x","base_url":"http://127.0.0.1:9","supported_models":[]}""", "supported_models"),
            ("""{"name":"x","base_url":"http://127.0.0.1:9"}""", "supported_models"),
        ];

        foreach (var (json, field) in cases)
        {
            var response = await gateway.Admin.Client.PostAsync(Url("/api/admin/servers"), GatewayServer.JsonContent(json));
            var text = await response.Content.ReadAsStringAsync();

            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{json} answered {(int)response.StatusCode}: {text}");
            Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{json}: {text}");
            Assert.True(text.Contains(field, StringComparison.Ordinal), $"{json} does not name {field}: {text}");
            using var problem = JsonDocument.Parse(text);
            if (problem.RootElement.TryGetProperty("errors", out var errors))
            {
                Assert.True(errors.TryGetProperty(field, out _), $"{json}: errors do not name {field}: {text}");
            }
        }

        await using var db = database.OpenContext();
        Assert.Equal(0, await db.LitellmServers.CountAsync());
    }

    [Fact]
    public async Task CreateServer_MalformedJson_Returns400AndStoresNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);

        var response = await gateway.Admin.Client.PostAsync(Url("/api/admin/servers"), GatewayServer.JsonContent("""{"name":"x","base_url":"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("JSON", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        Assert.Equal(0, await db.LitellmServers.CountAsync());
    }

    [Fact]
    public async Task CreateServer_DuplicateName_Returns409AndKeepsTheFirst()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        await gateway.AddServerAsync(new ServerRegistration("same", "http://127.0.0.1:9", ["m1"]), waitUntilRoutable: false);

        var duplicate = await gateway.Admin.Client.PostAsJsonAsync(Url("/api/admin/servers"), new { name = "same", base_url = "http://127.0.0.1:10", supported_models = new[] { "m2" } });

        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal("application/problem+json", duplicate.Content.Headers.ContentType?.MediaType);
        await using var db = database.OpenContext();
        var stored = await db.LitellmServers.SingleAsync();
        Assert.Equal(["m1"], stored.SupportedModels);
    }

    [Fact]
    public async Task ListGetPatchDelete_ManageServersAndUnknownIdsReturn404()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var admin = gateway.Admin.Client;
        var first = await gateway.AddServerAsync(new ServerRegistration("first", "http://127.0.0.1:9", ["m1", "m2"], ApiKey: UpstreamSecret), waitUntilRoutable: false);
        var second = await gateway.AddServerAsync(new ServerRegistration("second", "http://127.0.0.1:10", ["m3"]), waitUntilRoutable: false);

        var list = await JsonAsync(await admin.GetAsync(Url("/api/admin/servers")));
        var patch = await admin.PatchAsJsonAsync(Url($"/api/admin/servers/{first}"), new { weight = 7, enabled = false });
        var patched = await JsonAsync(patch);
        var fetched = await JsonAsync(await admin.GetAsync(Url($"/api/admin/servers/{first}")));
        var delete = await admin.DeleteAsync(Url($"/api/admin/servers/{second}"));
        var afterDelete = await admin.GetAsync(Url($"/api/admin/servers/{second}"));
        var unknown = Guid.NewGuid();

        Assert.Equal(["first", "second"], list.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("name").GetString()).Order());
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        foreach (var server in new[] { patched, fetched })
        {
            Assert.Equal(7, server.GetProperty("weight").GetInt32());
            Assert.False(server.GetProperty("enabled").GetBoolean());
            Assert.Equal("first", server.GetProperty("name").GetString());
            Assert.Equal(1, server.GetProperty("priority").GetInt32());
            Assert.Equal(["m1", "m2"], server.GetProperty("supported_models").EnumerateArray().Select(m => m.GetString()));
            Assert.True(server.GetProperty("has_api_key").GetBoolean());
        }

        Assert.True(delete.IsSuccessStatusCode, $"DELETE answered {(int)delete.StatusCode}");
        Assert.Equal(HttpStatusCode.NotFound, afterDelete.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync(Url($"/api/admin/servers/{unknown}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PatchAsJsonAsync(Url($"/api/admin/servers/{unknown}"), new { weight = 1 })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync(Url($"/api/admin/servers/{unknown}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync(Url($"/api/admin/servers/{unknown}/health"))).StatusCode);
        await using var db = database.OpenContext();
        Assert.Equal("first", (await db.LitellmServers.SingleAsync()).Name);
    }

    [Fact]
    public async Task PatchServer_BadInput_Returns400AndChangesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("first", "http://127.0.0.1:9", ["m1"]), waitUntilRoutable: false);

        var weight = await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { weight = -5 });
        var models = await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { supported_models = Array.Empty<string>() });
        var url = await gateway.Admin.Client.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { base_url = "file:///etc/passwd" });

        Assert.Equal(HttpStatusCode.BadRequest, weight.StatusCode);
        Assert.Contains("weight", await weight.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, models.StatusCode);
        Assert.Contains("supported_models", await models.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, url.StatusCode);
        Assert.Contains("base_url", await url.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        var stored = await db.LitellmServers.SingleAsync();
        Assert.Equal(100, stored.Weight);
        Assert.Equal(["m1"], stored.SupportedModels);
        Assert.Equal("http://127.0.0.1:9", stored.BaseUrl.TrimEnd('/'));
    }

    [Fact]
    public async Task ServerHealth_HealthyUpstream_ReportsHealthyFromLivelinessWithoutCallingCompletionRoutes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(upstream);

        var healthy = await gateway.WaitForHealthAsync(id, "healthy", TimeSpan.FromSeconds(5));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var health = await gateway.HealthAsync(id);

        Assert.True(healthy, $"never reported healthy: {health}");
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, health.GetProperty("last_check_at").ValueKind);
        Assert.True(health.GetProperty("latency_ms").GetInt32() >= 0);
        Assert.True(health.TryGetProperty("error", out var error) && error.ValueKind is JsonValueKind.Null or JsonValueKind.String);
        Assert.True(health.TryGetProperty("circuit", out _));
        Assert.True(upstream.LivelinessCount >= 1, "the liveliness route was never called");
        Assert.Equal(0, upstream.ChatCount);
        Assert.Equal(0, upstream.EmbeddingsCount);
    }

    [Fact]
    public async Task ServerHealth_LivelinessFails_ReportsUnhealthyWithAnError()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.SetHealth(503);
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("alpha", upstream.BaseUrl, [GatewayServer.Model]), waitUntilRoutable: false);

        var unhealthy = await gateway.WaitForHealthAsync(id, "unhealthy", TimeSpan.FromSeconds(5));
        var health = await gateway.HealthAsync(id);

        Assert.True(unhealthy, $"never reported unhealthy: {health}");
        Assert.Equal(JsonValueKind.String, health.GetProperty("last_check_at").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(health.GetProperty("error").GetString()));
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task ServerHealth_UnreachableServer_ReportsUnhealthy()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("gone", FakeUpstream.UnusedBaseUrl(), [GatewayServer.Model]), waitUntilRoutable: false);

        var unhealthy = await gateway.WaitForHealthAsync(id, "unhealthy", TimeSpan.FromSeconds(5));

        Assert.True(unhealthy, $"never reported unhealthy: {await gateway.HealthAsync(id)}");
    }

    [Fact]
    public async Task ServerHealth_WithoutLivelinessRoute_FallsBackToTheModelList()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        upstream.RemoveLivelinessRoute();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("alpha", upstream.BaseUrl, [GatewayServer.Model]), waitUntilRoutable: false);

        var healthy = await gateway.WaitForHealthAsync(id, "healthy", TimeSpan.FromSeconds(5));

        Assert.True(healthy, $"never reported healthy: {await gateway.HealthAsync(id)}");
        Assert.True(upstream.Count(FakeUpstream.ModelsPath) >= 1, "the /v1/models fallback was never called");
        Assert.Equal(0, upstream.ChatCount);
    }

    [Fact]
    public async Task AdminServers_ForNonAdmins_Return403AndWithoutSession401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, GatewayServer.Settings());
        var gateway = await GatewayServer.StartAsync(app);
        var id = await gateway.AddServerAsync(new ServerRegistration("first", "http://127.0.0.1:9", ["m1"]), waitUntilRoutable: false);
        var user = gateway.User.Client;
        var anonymous = app.CreateClient();
        var keyOnly = gateway.CreateKeyClient();
        var body = new { name = "evil", base_url = "http://127.0.0.1:10", supported_models = new[] { "m1" } };

        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(Url("/api/admin/servers"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsJsonAsync(Url("/api/admin/servers"), body)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(Url($"/api/admin/servers/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PatchAsJsonAsync(Url($"/api/admin/servers/{id}"), new { enabled = false })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.DeleteAsync(Url($"/api/admin/servers/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync(Url($"/api/admin/servers/{id}/health"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(Url("/api/admin/servers"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync(Url("/api/admin/servers"), body)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.DeleteAsync(Url($"/api/admin/servers/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await keyOnly.GetAsync(Url("/api/admin/servers"))).StatusCode);
        await using var db = database.OpenContext();
        var stored = await db.LitellmServers.SingleAsync();
        Assert.True(stored.Enabled);
        Assert.Equal("first", stored.Name);
    }
}
