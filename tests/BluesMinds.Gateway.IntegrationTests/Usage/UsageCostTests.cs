using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// cost_micros = round half up(((prompt − cached) × input + cached × (cached_input ?? input) + completion × output) / 1e6),
/// with prices in micro-dollars per million tokens, from the model the client asked for.
/// </summary>
public sealed class UsageCostTests
{
    private const string Unpriced = "gpt-4o";
    private const string HalfCent = "gpt-4.1";
    private const string WithCachedPrice = "gpt-4.1-mini";
    private const string WithoutCachedPrice = "o3-mini";

    internal static async Task SetPriceAsync(GatewayServer gateway, string model, long input, long output, long? cachedInput = null)
    {
        var body = new Dictionary<string, object?> { ["input_micros_per_million"] = input, ["output_micros_per_million"] = output };
        if (cachedInput is not null)
        {
            body["cached_input_micros_per_million"] = cachedInput;
        }

        var response = await gateway.Admin.Client.PutAsJsonAsync(Url($"/api/admin/pricing/{model}"), body);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT price of {model}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>A non-streamed answer whose usage reports 3 of the 5 prompt tokens as served from the provider's cache.</summary>
    private static string CachedAnswer(string model) => new JsonObject
    {
        ["id"] = "chatcmpl-cached",
        ["object"] = "chat.completion",
        ["created"] = 1_700_000_000,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = "from the cache" },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = new JsonObject
        {
            ["prompt_tokens"] = 5,
            ["completion_tokens"] = 7,
            ["total_tokens"] = 12,
            ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = 3 },
        },
    }.ToJsonString();

    [Fact]
    public async Task CostIsExactFromThePriceTable_RoundedHalfUp_AndZeroForAnUnpricedModel()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", Model, Unpriced, HalfCent);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, Unpriced, HalfCent]);
        await SetPriceAsync(gateway, Model, input: 150_000, output: 600_000);
        await SetPriceAsync(gateway, HalfCent, input: 100_000, output: 0);
        var client = gateway.CreateKeyClient();

        var priced = await ChatOkAsync(client, Model);
        var streamed = await ChatOkAsync(client, Model, stream: true);
        var unpriced = await ChatOkAsync(client, Unpriced);
        var half = await ChatOkAsync(client, HalfCent);
        var rows = await WaitForRowsAsync(database, [priced, streamed, unpriced, half]);

        // 5 × 150000 + 7 × 600000 = 4,950,000 micro-dollar-tokens → 4.95 → 5 micro-dollars.
        Assert.Equal((5, 7, 5L), Cost(rows.Single(r => r.RequestId == priced)));

        // Streamed (3 chunks): 5 × 150000 + 3 × 600000 = 2,550,000 → 2.55 → 3.
        Assert.Equal((5, 3, 3L), Cost(rows.Single(r => r.RequestId == streamed)));
        Assert.Equal((5, 7, 0L), Cost(rows.Single(r => r.RequestId == unpriced)));

        // 5 × 100000 = 500,000 → exactly 0.5 → rounds half up to 1 (not to even, not down).
        Assert.Equal((5, 7, 1L), Cost(rows.Single(r => r.RequestId == half)));
        await AssertRollupsMatchLogsAsync(database);
        var daily = await DailyAsync(database);
        Assert.Equal(8L, daily.Single(d => d.Model == Model).CostMicros);
        Assert.Equal(0L, daily.Single(d => d.Model == Unpriced).CostMicros);
    }

    [Fact]
    public async Task CachedPromptTokens_ArePricedAtTheCachedPrice_OrAsInputWhenThereIsNone()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", WithCachedPrice, WithoutCachedPrice);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [WithCachedPrice, WithoutCachedPrice]);
        await SetPriceAsync(gateway, WithCachedPrice, input: 1_000_000, output: 2_000_000, cachedInput: 100_000);
        await SetPriceAsync(gateway, WithoutCachedPrice, input: 1_000_000, output: 2_000_000);
        var client = gateway.CreateKeyClient();

        upstream.RespondWithStatus(200, CachedAnswer(WithCachedPrice));
        var cached = await ChatOkAsync(client, WithCachedPrice);
        var cachedAsInput = await ChatOkAsync(client, WithoutCachedPrice);
        upstream.RespondNormally();
        var uncached = await ChatOkAsync(client, WithCachedPrice);
        var rows = await WaitForRowsAsync(database, [cached, cachedAsInput, uncached]);

        var cachedRow = rows.Single(r => r.RequestId == cached);
        Assert.Equal((5, 3, 7, 12), (cachedRow.PromptTokens, cachedRow.CachedTokens, cachedRow.CompletionTokens, cachedRow.TotalTokens));

        // (5 − 3) × 1,000,000 + 3 × 100,000 + 7 × 2,000,000 = 16,300,000 → 16.
        Assert.Equal(16L, cachedRow.CostMicros);

        // No cached price: the 3 cached tokens are charged as input: 5 × 1,000,000 + 7 × 2,000,000 → 19.
        Assert.Equal(19L, rows.Single(r => r.RequestId == cachedAsInput).CostMicros);
        Assert.Equal(19L, rows.Single(r => r.RequestId == uncached).CostMicros);
        await AssertRollupsMatchLogsAsync(database);
        var rollup = (await DailyAsync(database)).Single(d => d.Model == WithCachedPrice);
        Assert.Equal((3L, 35L), (rollup.CachedTokens, rollup.CostMicros));
    }

    [Fact]
    public async Task APriceChange_AppliesToTheVeryNextRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();

        var before = await ChatOkAsync(client);
        await SetPriceAsync(gateway, Model, input: 1_000_000, output: 1_000_000);
        var first = await ChatOkAsync(client);
        await SetPriceAsync(gateway, Model, input: 2_000_000, output: 10_000_000);
        var second = await ChatOkAsync(client);
        var deleted = await gateway.Admin.Client.DeleteAsync(Url($"/api/admin/pricing/{Model}"));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var afterDelete = await ChatOkAsync(client);

        var replaced = await gateway.Admin.Client.PutAsJsonAsync(Url("/api/admin/pricing"), new
        {
            prices = new[] { new { model = Model, input_micros_per_million = 3_000_000, output_micros_per_million = 0 } },
        });
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var afterReplace = await ChatOkAsync(client);

        var rows = await WaitForRowsAsync(database, [before, first, second, afterDelete, afterReplace]);
        long CostOf(string id) => rows.Single(r => r.RequestId == id).CostMicros;
        Assert.Equal(
            [0L, 12L, 10L + 70L, 0L, 15L],
            new[] { CostOf(before), CostOf(first), CostOf(second), CostOf(afterDelete), CostOf(afterReplace) });
    }

    private static (int Prompt, int Completion, long Cost) Cost(BluesMinds.Gateway.Data.Entities.UsageLog row) => (row.PromptTokens, row.CompletionTokens, row.CostMicros);
}
