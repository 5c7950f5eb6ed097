using System.Net;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>usage_daily: one row per (user, key, model requested, UTC day), kept equal to the sums of usage_logs.</summary>
public sealed class UsageRollupTests
{
    private const string OtherModel = "gpt-4o";

    [Fact]
    public async Task MixedTrafficOverTwoKeysAndTwoModels_RollupsEqualTheRawRowSums()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", Model, OtherModel);
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream, [Model, OtherModel]);
        var (firstId, firstKey) = await CreateKeyAsync(gateway.User.Client, "first");
        var (secondId, secondKey) = await CreateKeyAsync(gateway.User.Client, "second");
        await using (var db = database.OpenContext())
        {
            // The second key may make 3 requests a minute: the 4th is refused by the limits (429).
            db.RateLimits.Add(new RateLimit { Id = Guid.NewGuid(), Scope = RateLimitScopes.Key, ApiKeyId = secondId, RequestsPerMinute = 3, CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        var first = gateway.CreateKeyClient(firstKey);
        var second = gateway.CreateKeyClient(secondKey);
        var sent = new List<(string Id, Guid Key, string Model, HttpStatusCode Status)>();
        async Task SendAsync(HttpClient client, Guid key, string model, bool stream = false)
        {
            var (status, id) = await ChatAsync(client, model, stream: stream);
            sent.Add((id, key, model, status));
        }

        await SendAsync(first, firstId, Model);
        await SendAsync(first, firstId, Model);
        upstream.FailNext(1, 500);
        await SendAsync(first, firstId, Model);
        await SendAsync(first, firstId, OtherModel);
        await SendAsync(first, firstId, OtherModel, stream: true);
        await SendAsync(second, secondId, Model);
        await SendAsync(second, secondId, OtherModel);
        await SendAsync(second, secondId, OtherModel);
        await SendAsync(second, secondId, OtherModel);

        Assert.Equal(7, sent.Count(s => s.Status == HttpStatusCode.OK));
        Assert.True(sent[2].Status >= HttpStatusCode.InternalServerError, $"the upstream's 500 reaches the client as an error, got {sent[2].Status}");
        Assert.Equal(HttpStatusCode.TooManyRequests, sent[^1].Status);

        var rows = await WaitForRowsAsync(database, sent.Select(s => s.Id).ToList());
        Assert.Equal(sent.Count, rows.Count);
        Assert.All(sent, s =>
        {
            var row = rows.Single(r => r.RequestId == s.Id);
            Assert.Equal((s.Key, s.Model, (int)s.Status), (row.ApiKeyId!.Value, row.ModelRequested, row.StatusCode));
        });

        await AssertRollupsMatchLogsAsync(database);
        var daily = await DailyAsync(database);
        Assert.Equal(4, daily.Count);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        Assert.All(daily, d => Assert.Equal((gateway.User.Id, today), (d.UserId, d.Day)));

        UsageDaily Rollup(Guid key, string model) => daily.Single(d => d.ApiKeyId == key && d.Model == model);

        // 2 answers of 5+7 and one upstream error with no tokens.
        Assert.Equal((3L, 1L, 10L, 14L, 24L), Totals(Rollup(firstId, Model)));

        // One answer of 5+7 and one stream of 3 chunks with the upstream's usage (5+3).
        Assert.Equal((2L, 0L, 10L, 10L, 20L), Totals(Rollup(firstId, OtherModel)));
        Assert.Equal((1L, 0L, 5L, 7L, 12L), Totals(Rollup(secondId, Model)));

        // Two answers and one refusal by the limits, which used nothing.
        Assert.Equal((3L, 1L, 10L, 14L, 24L), Totals(Rollup(secondId, OtherModel)));
    }

    [Fact]
    public async Task RequestsOnDifferentDays_GoToTheirOwnDailyRows()
    {
        // Rows of another day are written through the journal, as a replay after an outage writes them.
        // Their days are fixed dates, older than the default retention: the hourly retention job,
        // which also runs at start, would otherwise delete them as soon as they land.
        await using var database = await TestDatabase.CreateAsync();
        var settings = Settings(("Usage:RetentionDays", "0"));
        await using (var app = new GatewayApp(database, settings))
        {
            Assert.NotNull(app.Services);
        }

        var user = Guid.NewGuid();
        var key = Guid.NewGuid();
        var lines = new[]
        {
            Line("a", user, key, "m", new DateTime(2026, 3, 1, 23, 59, 59, DateTimeKind.Utc), 1, 2, 200),
            Line("b", user, key, "m", new DateTime(2026, 3, 2, 0, 0, 0, DateTimeKind.Utc), 10, 20, 200),
            Line("c", user, key, "m", new DateTime(2026, 3, 2, 12, 0, 0, DateTimeKind.Utc), 100, 200, 429),
            Line("d", user, key, null, new DateTime(2026, 3, 2, 12, 0, 0, DateTimeKind.Utc), 0, 0, 400),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(JournalPath(database))!);
        await WriteJournalAsync(database, string.Concat(lines.Select(l => l + "\n")));
        await using var restarted = new GatewayApp(database, settings);
        Assert.NotNull(restarted.Services);
        await WaitForRowsAsync(database, ["a", "b", "c", "d"]);

        await AssertRollupsMatchLogsAsync(database);
        var daily = (await DailyAsync(database)).OrderBy(d => d.Day).ThenBy(d => d.Model, StringComparer.Ordinal).ToList();
        Assert.Equal(
            [(new DateOnly(2026, 3, 1), "m"), (new DateOnly(2026, 3, 2), string.Empty), (new DateOnly(2026, 3, 2), "m")],
            daily.Select(d => (d.Day, d.Model)));
        Assert.Equal((1L, 0L, 1L, 2L, 3L), Totals(daily[0]));
        Assert.Equal((1L, 1L, 0L, 0L, 0L), Totals(daily[1]));
        Assert.Equal((2L, 1L, 110L, 220L, 330L), Totals(daily[2]));
    }

    private static (long Requests, long Errors, long Prompt, long Completion, long Total) Totals(UsageDaily d) =>
        (d.Requests, d.ErrorRequests, d.PromptTokens, d.CompletionTokens, d.TotalTokens);

    private static string Line(string id, Guid user, Guid key, string? model, DateTime createdAt, int prompt, int completion, int status) =>
        new System.Text.Json.Nodes.JsonObject
        {
            ["request_id"] = id,
            ["endpoint"] = "chat.completions",
            ["user_id"] = user,
            ["api_key_id"] = key,
            ["model_requested"] = model,
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["status_code"] = status,
            ["created_at"] = createdAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        }.ToJsonString();
}
