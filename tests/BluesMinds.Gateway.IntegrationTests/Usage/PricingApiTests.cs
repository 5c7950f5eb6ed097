using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary><c>/api/admin/pricing</c>: the per-model price table in micro-dollars per million tokens.</summary>
public sealed class PricingApiTests
{
    /// <summary>The table as GET returns it: model → (input, cached input, output).</summary>
    private static async Task<Dictionary<string, (long Input, long? Cached, long Output)>> TableAsync(HttpClient admin)
    {
        var body = await GetJsonAsync(admin, "/api/admin/pricing");
        return body.GetProperty("data").EnumerateArray().ToDictionary(
            p => p.GetProperty("model").GetString()!,
            p => (p.GetProperty("input_micros_per_million").GetInt64(),
                p.TryGetProperty("cached_input_micros_per_million", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : (long?)null,
                p.GetProperty("output_micros_per_million").GetInt64()));
    }

    private static async Task<List<JsonElement>> AuditAsync(HttpClient admin, string action)
    {
        var body = await GetJsonAsync(admin, $"/api/admin/audit-logs?action={action}&page_size=100");
        return [.. body.GetProperty("data").EnumerateArray()];
    }

    [Fact]
    public async Task ListReplaceSetAndDelete_ChangeTheTable_AndEachChangeIsAudited()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var admin = gateway.Admin.Client;

        Assert.Empty(await TableAsync(admin));

        var replaced = await admin.PutAsJsonAsync(Url("/api/admin/pricing"), new
        {
            prices = new object[]
            {
                new { model = "zeta", input_micros_per_million = 150_000, output_micros_per_million = 600_000 },
                new { model = "alpha", input_micros_per_million = 2_500_000, cached_input_micros_per_million = 1_250_000, output_micros_per_million = 10_000_000 },
            },
        });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var replacedBody = await JsonAsync(replaced);
        Assert.Equal(["alpha", "zeta"], replacedBody.GetProperty("data").EnumerateArray().Select(p => p.GetProperty("model").GetString()));
        var table = await TableAsync(admin);
        Assert.Equal((2_500_000L, (long?)1_250_000L, 10_000_000L), table["alpha"]);
        Assert.Equal((150_000L, (long?)null, 600_000L), table["zeta"]);
        Assert.Equal(2, table.Count);

        // Set one model: added, then changed in place; a model name may contain slashes.
        var added = await admin.PutAsJsonAsync(Url("/api/admin/pricing/openai/gpt-4o"), new { input_micros_per_million = 1, output_micros_per_million = 2 });
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.Equal("openai/gpt-4o", (await JsonAsync(added)).GetProperty("model").GetString());
        var changed = await admin.PutAsJsonAsync(Url("/api/admin/pricing/zeta"), new { input_micros_per_million = 0, cached_input_micros_per_million = 0, output_micros_per_million = 7 });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        table = await TableAsync(admin);
        Assert.Equal(3, table.Count);
        Assert.Equal((1L, (long?)null, 2L), table["openai/gpt-4o"]);
        Assert.Equal((0L, (long?)0L, 7L), table["zeta"]);

        var deleted = await admin.DeleteAsync(Url("/api/admin/pricing/openai/gpt-4o"));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(["alpha", "zeta"], (await TableAsync(admin)).Keys.Order(StringComparer.Ordinal));
        var again = await admin.DeleteAsync(Url("/api/admin/pricing/openai/gpt-4o"));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);

        // Replacing with an empty list empties the table.
        var emptied = await admin.PutAsJsonAsync(Url("/api/admin/pricing"), new { prices = Array.Empty<object>() });
        Assert.Equal(HttpStatusCode.OK, emptied.StatusCode);
        Assert.Empty(await TableAsync(admin));

        // Every change left an audit row, naming the admin and the model.
        var updates = await AuditAsync(admin, "pricing.updated");
        Assert.Equal(["zeta", "openai/gpt-4o"], updates.Select(u => u.GetProperty("target_id").GetString()));
        Assert.All(updates, u => Assert.Equal(gateway.Admin.Id, u.GetProperty("actor_user_id").GetGuid()));
        Assert.Contains("\"output_micros_per_million\":7", updates[0].GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, (await AuditAsync(admin, "pricing.replaced")).Count);
        var deletions = await AuditAsync(admin, "pricing.deleted");
        Assert.Equal("openai/gpt-4o", Assert.Single(deletions).GetProperty("target_id").GetString());
    }

    public static TheoryData<string, string, string> InvalidChanges => new()
    {
        { "/api/admin/pricing", """{"prices":[{"model":"m","input_micros_per_million":-1,"output_micros_per_million":2}]}""", "prices[0].input_micros_per_million" },
        { "/api/admin/pricing", """{"prices":[{"model":"m","input_micros_per_million":1}]}""", "prices[0].output_micros_per_million" },
        { "/api/admin/pricing", """{"prices":[{"model":"m","input_micros_per_million":1,"output_micros_per_million":2,"cached_input_micros_per_million":-5}]}""", "prices[0].cached_input_micros_per_million" },
        { "/api/admin/pricing", """{"prices":[{"model":"m","input_micros_per_million":1,"output_micros_per_million":2},{"model":"m","input_micros_per_million":3,"output_micros_per_million":4}]}""", "prices[1].model" },
        { "/api/admin/pricing", """{"prices":[{"input_micros_per_million":1,"output_micros_per_million":2}]}""", "prices[0].model" },
        { "/api/admin/pricing", """{"prices":[{"model":"m","input_micros_per_million":1000000000001,"output_micros_per_million":2}]}""", "prices[0].input_micros_per_million" },
        { "/api/admin/pricing", """{}""", "prices" },
        { "/api/admin/pricing", """{"prices":null}""", "prices" },
    };

    [Theory]
    [MemberData(nameof(InvalidChanges))]
    public async Task InvalidReplace_Is400WithTheField_AndTheTableIsUnchanged(string path, string json, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var admin = gateway.Admin.Client;
        var seeded = await admin.PutAsJsonAsync(Url("/api/admin/pricing/kept"), new { input_micros_per_million = 10, output_micros_per_million = 20 });
        Assert.Equal(HttpStatusCode.OK, seeded.StatusCode);
        var before = await TableAsync(admin);

        using var response = await admin.PutAsync(Url(path), JsonContent(json));

        await AssertFieldErrorAsync(response, field, json);
        Assert.Equal(before, await TableAsync(admin));
        Assert.Empty(await AuditAsync(admin, "pricing.replaced"));
    }

    [Theory]
    [InlineData("""{"input_micros_per_million":-1,"output_micros_per_million":2}""", "input_micros_per_million")]
    [InlineData("""{"input_micros_per_million":1}""", "output_micros_per_million")]
    [InlineData("""{"output_micros_per_million":1}""", "input_micros_per_million")]
    [InlineData("""{"input_micros_per_million":1,"output_micros_per_million":-2}""", "output_micros_per_million")]
    public async Task InvalidSet_Is400NamingTheField_AndThePriceIsUnchanged(string json, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var admin = gateway.Admin.Client;
        var seeded = await admin.PutAsJsonAsync(Url("/api/admin/pricing/kept"), new { input_micros_per_million = 10, output_micros_per_million = 20 });
        Assert.Equal(HttpStatusCode.OK, seeded.StatusCode);

        using var response = await admin.PutAsync(Url("/api/admin/pricing/kept"), JsonContent(json));

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{json}: {(int)response.StatusCode} {text}");
        using var document = JsonDocument.Parse(text);
        var fields = document.RootElement.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(fields.Any(f => f == field || f.EndsWith("." + field, StringComparison.Ordinal)), $"no error for {field}: {text}");
        Assert.Equal((10L, (long?)null, 20L), (await TableAsync(admin))["kept"]);
        Assert.Single(await AuditAsync(admin, "pricing.updated"));
    }

    [Fact]
    public async Task Customers_AreForbidden_AndAnonymousCallersUnauthorized()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        var price = new { input_micros_per_million = 1, output_micros_per_million = 1 };
        var customer = gateway.User.Client;

        Assert.Equal(HttpStatusCode.Forbidden, (await customer.GetAsync(Url("/api/admin/pricing"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await customer.PutAsJsonAsync(Url("/api/admin/pricing"), new { prices = new[] { new { model = "m", input_micros_per_million = 1, output_micros_per_million = 1 } } })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await customer.PutAsJsonAsync(Url("/api/admin/pricing/m"), price)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await customer.DeleteAsync(Url("/api/admin/pricing/m"))).StatusCode);
        var anonymous = app.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(Url("/api/admin/pricing"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PutAsJsonAsync(Url("/api/admin/pricing/m"), price)).StatusCode);

        Assert.Empty(await TableAsync(gateway.Admin.Client));
    }
}
