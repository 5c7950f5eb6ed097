using System.Globalization;
using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// The traffic the usage API tests read (they only read, so one setup serves them all): the customer's
/// key "first" asks 2× the default model and 1× the other; key "second" asks the default model once
/// and an unknown model once (404). Another user makes one request of its own.
/// </summary>
public sealed class UsageApiFixture : IAsyncLifetime
{
    public const string OtherModel = "gpt-4o";

    internal TestDatabase Database { get; private set; } = null!;

    internal FakeUpstream Upstream { get; private set; } = null!;

    internal GatewayApp App { get; private set; } = null!;

    internal GatewayServer Gateway { get; private set; } = null!;

    internal Guid FirstKeyId { get; private set; }

    internal Guid SecondKeyId { get; private set; }

    internal SignedInUser Other { get; private set; } = null!;

    internal Guid OtherKeyId { get; private set; }

    internal List<string> FirstKeyIds { get; } = [];

    internal List<string> SecondKeyIds { get; } = [];

    internal string RefusedId { get; private set; } = null!;

    internal string OtherRequestId { get; private set; } = null!;

    internal DateTime StartedAt { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync();
        Upstream = await FakeUpstream.StartAsync("alpha", Model, OtherModel);
        App = new GatewayApp(Database, Settings());
        Gateway = await StartAsync(App);
        await Gateway.AddServerAsync(Upstream, [Model, OtherModel]);
        StartedAt = DateTime.UtcNow.AddSeconds(-1);

        var (firstId, firstKey) = await CreateKeyAsync(Gateway.User.Client, "first key");
        var (secondId, secondKey) = await CreateKeyAsync(Gateway.User.Client, "second key");
        FirstKeyId = firstId;
        SecondKeyId = secondId;
        var first = Gateway.CreateKeyClient(firstKey);
        var second = Gateway.CreateKeyClient(secondKey);
        FirstKeyIds.Add(await ChatOkAsync(first));
        FirstKeyIds.Add(await ChatOkAsync(first));
        FirstKeyIds.Add(await ChatOkAsync(first, OtherModel));
        SecondKeyIds.Add(await ChatOkAsync(second));
        var (status, refused) = await ChatAsync(second, "no-such-model");
        Assert.Equal(HttpStatusCode.NotFound, status);
        RefusedId = refused;
        SecondKeyIds.Add(refused);

        Other = await SignUpUserAsync(App);
        var (otherKeyId, otherKey) = await CreateKeyAsync(Other.Client, "other key");
        OtherKeyId = otherKeyId;
        OtherRequestId = await ChatOkAsync(Gateway.CreateKeyClient(otherKey));
        await WaitForRowsAsync(Database, [.. FirstKeyIds, .. SecondKeyIds, OtherRequestId]);
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Upstream.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>
/// <c>GET /api/usage</c> (the caller's rollups) and <c>GET /api/usage/logs</c> (the caller's raw rows),
/// and <c>GET /api/admin/usage</c> across accounts.
/// </summary>
public sealed class UsageApiTests(UsageApiFixture fixture) : IClassFixture<UsageApiFixture>
{
    private const string OtherModel = UsageApiFixture.OtherModel;
    private readonly UsageApiFixture _f = fixture;

    private static (long Requests, long Errors, long Prompt, long Completion, long Total) Totals(JsonElement e) =>
        (e.GetProperty("requests").GetInt64(), e.GetProperty("error_requests").GetInt64(), e.GetProperty("prompt_tokens").GetInt64(),
            e.GetProperty("completion_tokens").GetInt64(), e.GetProperty("total_tokens").GetInt64());

    private static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Summary_DefaultsToThisMonthByDay_WithTheCallersTotals()
    {
        var body = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage");

        var now = DateTime.UtcNow;
        Assert.Equal(new DateTime(now.Year, now.Month, 1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), body.GetProperty("from").GetString());
        Assert.Equal(Today, body.GetProperty("to").GetString());
        Assert.Equal("day", body.GetProperty("group_by").GetString());

        // 4 answers of 5+7 and one 404 with no tokens.
        Assert.Equal((5L, 1L, 20L, 28L, 48L), Totals(body.GetProperty("totals")));
        Assert.Equal(0L, body.GetProperty("totals").GetProperty("cost_micros").GetInt64());
        Assert.Equal("0.000000", body.GetProperty("totals").GetProperty("cost_usd").GetString());
        var day = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal(Today, day.GetProperty("day").GetString());
        Assert.Equal((5L, 1L, 20L, 28L, 48L), Totals(day));
        Assert.False(day.TryGetProperty("model", out _), "only the grouping field is present");
        Assert.Equal(48L, body.GetProperty("quota").GetProperty("used_tokens").GetInt64());
        Assert.True(body.TryGetProperty("limits", out var limits) && limits.ValueKind == JsonValueKind.Object);
    }

    [Fact]
    public async Task Summary_ByModelAndByKey_SplitsTheSameTotals()
    {
        var byModel = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage?group_by=model");
        var models = byModel.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("model").GetString()!, Totals);
        Assert.Equal("model", byModel.GetProperty("group_by").GetString());
        Assert.Equal(3, models.Count);
        Assert.Equal((3L, 0L, 15L, 21L, 36L), models[Model]);
        Assert.Equal((1L, 0L, 5L, 7L, 12L), models[OtherModel]);
        Assert.Equal((1L, 1L, 0L, 0L, 0L), models["no-such-model"]);
        Assert.Equal((5L, 1L, 20L, 28L, 48L), Totals(byModel.GetProperty("totals")));

        var byKey = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage?group_by=key");
        var keys = byKey.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        var first = keys.Single(k => k.GetProperty("key_id").GetGuid() == _f.FirstKeyId);
        var second = keys.Single(k => k.GetProperty("key_id").GetGuid() == _f.SecondKeyId);
        Assert.Equal(("first key", (3L, 0L, 15L, 21L, 36L)), (first.GetProperty("key_name").GetString(), Totals(first)));
        Assert.Equal(("second key", (2L, 1L, 5L, 7L, 12L)), (second.GetProperty("key_name").GetString(), Totals(second)));
        Assert.Equal((5L, 1L, 20L, 28L, 48L), Totals(byKey.GetProperty("totals")));
    }

    [Fact]
    public async Task Summary_ARangeWithoutUsage_IsEmpty_AndTheFullRangeLimitIsAccepted()
    {
        var past = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage?from=2020-01-01&to=2020-12-31");
        Assert.Equal((0L, 0L, 0L, 0L, 0L), Totals(past.GetProperty("totals")));
        Assert.Empty(past.GetProperty("data").EnumerateArray());

        // 366 days inclusive is the longest range allowed.
        var longest = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage?from=2024-01-01&to=2024-12-31");
        Assert.Equal("2024-12-31", longest.GetProperty("to").GetString());
    }

    [Fact]
    public async Task AnotherUser_SeesNoneOfTheCustomersUsage_EvenNamingTheCustomersKey()
    {
        var summary = await GetJsonAsync(_f.Other.Client, "/api/usage");
        Assert.Equal((1L, 0L, 5L, 7L, 12L), Totals(summary.GetProperty("totals")));

        var byKey = await GetJsonAsync(_f.Other.Client, "/api/usage?group_by=key");
        var key = Assert.Single(byKey.GetProperty("data").EnumerateArray());
        Assert.Equal((_f.OtherKeyId, "other key"), (key.GetProperty("key_id").GetGuid(), key.GetProperty("key_name").GetString()));

        var logs = await GetJsonAsync(_f.Other.Client, "/api/usage/logs");
        var row = Assert.Single(logs.GetProperty("data").EnumerateArray());
        Assert.Equal(_f.OtherRequestId, row.GetProperty("request_id").GetString());
        Assert.Equal(1, logs.GetProperty("total").GetInt32());

        var stolen = await GetJsonAsync(_f.Other.Client, $"/api/usage/logs?key_id={_f.FirstKeyId}");
        Assert.Empty(stolen.GetProperty("data").EnumerateArray());
        Assert.Equal(0, stolen.GetProperty("total").GetInt32());

        // And the customer does not see the other user's request.
        var mine = await GetJsonAsync(_f.Gateway.User.Client, $"/api/usage/logs?key_id={_f.OtherKeyId}");
        Assert.Equal(0, mine.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Logs_AreTheCallersRawRows_NewestFirst_WithoutAnyPromptOrAnswerText()
    {
        using var response = await _f.Gateway.User.Client.GetAsync(Url("/api/usage/logs?page_size=100"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(text);
        var body = document.RootElement;

        Assert.Equal((1, 100, 5), (body.GetProperty("page").GetInt32(), body.GetProperty("page_size").GetInt32(), body.GetProperty("total").GetInt32()));
        var rows = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([.. _f.SecondKeyIds.AsEnumerable().Reverse(), .. _f.FirstKeyIds.AsEnumerable().Reverse()], rows.Select(r => r.GetProperty("request_id").GetString()));
        var refused = rows.Single(r => r.GetProperty("request_id").GetString() == _f.RefusedId);
        Assert.Equal((404, "model_not_found", "no-such-model"), (refused.GetProperty("status_code").GetInt32(), refused.GetProperty("error_code").GetString(), refused.GetProperty("model_requested").GetString()));
        var answered = rows.Single(r => r.GetProperty("request_id").GetString() == _f.FirstKeyIds[0]);
        Assert.Equal((_f.FirstKeyId, Model, 5, 7, 12), (answered.GetProperty("key_id").GetGuid(), answered.GetProperty("model_served").GetString(), answered.GetProperty("prompt_tokens").GetInt32(), answered.GetProperty("completion_tokens").GetInt32(), answered.GetProperty("total_tokens").GetInt32()));

        // The upstream server is the operator's business, and no text of the conversation is kept.
        Assert.False(answered.TryGetProperty("server_id", out _));
        Assert.DoesNotContain("PURPLE-OKAPI", text, StringComparison.Ordinal);
        Assert.DoesNotContain(_f.Upstream.AnswerText, text, StringComparison.Ordinal);
        foreach (var table in new[] { "usage_logs", "usage_daily" })
        {
            var cells = (await _f.Database.QueryAsync($"SELECT * FROM {table}")).SelectMany(r => r);
            Assert.DoesNotContain(cells, c => c.Contains("PURPLE-OKAPI", StringComparison.Ordinal) || c.Contains(_f.Upstream.AnswerText, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Logs_FilterByKeyModelStatusAndTime()
    {
        async Task<List<string>> IdsAsync(string query)
        {
            var body = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage/logs?page_size=100&" + query);
            var ids = body.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("request_id").GetString()!).ToList();
            Assert.Equal(ids.Count, body.GetProperty("total").GetInt32());
            return ids;
        }

        Assert.Equal(_f.SecondKeyIds.Order(StringComparer.Ordinal), (await IdsAsync($"key_id={_f.SecondKeyId}")).Order(StringComparer.Ordinal));
        Assert.Equal([_f.FirstKeyIds[2]], await IdsAsync($"model={OtherModel}"));
        Assert.Equal([_f.RefusedId], await IdsAsync("status=404"));
        Assert.Equal(4, (await IdsAsync("status=200")).Count);
        Assert.Equal([_f.FirstKeyIds[1], _f.FirstKeyIds[0]], await IdsAsync($"key_id={_f.FirstKeyId}&model={Model}&status=200"));

        var from = Uri.EscapeDataString(_f.StartedAt.ToString("O", CultureInfo.InvariantCulture));
        var future = Uri.EscapeDataString(DateTime.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture));
        Assert.Equal(5, (await IdsAsync($"from={from}&to={future}")).Count);
        Assert.Empty(await IdsAsync($"from={future}"));
        Assert.Empty(await IdsAsync($"to={from}"));

        // "to" is exclusive and "from" inclusive: split at the third row's own timestamp.
        var rows = (await LogsAsync(_f.Database)).Where(r => r.UserId == _f.Gateway.User.Id).OrderBy(r => r.Id).ToList();
        var split = Uri.EscapeDataString(DateTime.SpecifyKind(rows[2].CreatedAt, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture));
        var before = await IdsAsync($"to={split}");
        var after = await IdsAsync($"from={split}");
        Assert.Equal(rows.Take(2).Select(r => r.RequestId).Order(StringComparer.Ordinal), before.Order(StringComparer.Ordinal));
        Assert.Equal(rows.Skip(2).Select(r => r.RequestId).Order(StringComparer.Ordinal), after.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Logs_ArePaged()
    {
        var all = new List<string>();
        for (var page = 1; page <= 3; page++)
        {
            var body = await GetJsonAsync(_f.Gateway.User.Client, $"/api/usage/logs?page={page}&page_size=2");
            Assert.Equal((page, 2, 5), (body.GetProperty("page").GetInt32(), body.GetProperty("page_size").GetInt32(), body.GetProperty("total").GetInt32()));
            var ids = body.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("request_id").GetString()!).ToList();
            Assert.Equal(page == 3 ? 1 : 2, ids.Count);
            all.AddRange(ids);
        }

        Assert.Equal([.. _f.SecondKeyIds.AsEnumerable().Reverse(), .. _f.FirstKeyIds.AsEnumerable().Reverse()], all);
        var beyond = await GetJsonAsync(_f.Gateway.User.Client, "/api/usage/logs?page=4&page_size=2");
        Assert.Empty(beyond.GetProperty("data").EnumerateArray());
        Assert.Equal(5, beyond.GetProperty("total").GetInt32());
    }

    [Theory]
    [InlineData("/api/usage?group_by=week", "group_by")]
    [InlineData("/api/usage?group_by=user", "group_by")]
    [InlineData("/api/usage?from=2026-02-10&to=2026-02-01", "from")]
    [InlineData("/api/usage?from=2024-01-01&to=2025-01-01", "to")]
    [InlineData("/api/usage?from=2020-01-01&to=2026-01-01", "to")]
    [InlineData("/api/usage/logs?page_size=0", "page_size")]
    [InlineData("/api/usage/logs?page_size=101", "page_size")]
    [InlineData("/api/usage/logs?page=0", "page")]
    [InlineData("/api/usage/logs?status=42", "status")]
    [InlineData("/api/usage/logs?status=600", "status")]
    [InlineData("/api/usage/logs?from=2026-02-10T00:00:00Z&to=2026-02-01T00:00:00Z", "from")]
    public async Task BadInput_Is400WithTheFieldNamed(string path, string field)
    {
        using var response = await _f.Gateway.User.Client.GetAsync(Url(path));
        await AssertFieldErrorAsync(response, field, path);
    }

    /// <summary>
    /// A value that does not even parse is a bad input too: 400 with the field named as the client
    /// sent it (<c>key_id</c>, not the handler's <c>keyId</c>), in <c>errors</c> like every other field error.
    /// </summary>
    [Theory]
    [InlineData("/api/usage/logs?key_id=not-a-guid", "key_id", "keyId")]
    [InlineData("/api/usage/logs?page_size=ten", "page_size", "pageSize")]
    [InlineData("/api/usage/logs?status=abc", "status", "status")]
    [InlineData("/api/usage?from=2026-13-01", "from", "from")]
    [InlineData("/api/admin/usage?user_id=nobody", "user_id", "userId")]
    public async Task MalformedValue_Is400WithTheFieldNamedAsSent(string path, string field, string handlerName)
    {
        var client = path.StartsWith("/api/admin/", StringComparison.Ordinal) ? _f.Gateway.Admin.Client : _f.Gateway.User.Client;
        using var response = await client.GetAsync(Url(path));
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode} {text}");
        if (handlerName != field)
        {
            Assert.DoesNotContain($"'{handlerName}'", text, StringComparison.Ordinal);
        }

        await AssertFieldErrorAsync(response, field, path);
    }

    [Theory]
    [InlineData("/api/usage")]
    [InlineData("/api/usage/logs")]
    [InlineData("/api/admin/usage")]
    public async Task WithoutASession_Is401_AndAnApiKeyIsNotASession(string path)
    {
        using var anonymous = await _f.App.CreateClient().GetAsync(Url(path));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var withKey = await _f.Gateway.CreateKeyClient().GetAsync(Url(path));
        Assert.Equal(HttpStatusCode.Unauthorized, withKey.StatusCode);
    }

    [Fact]
    public async Task AdminUsage_CoversEveryAccount_ByUserWithEmails_AndFiltersByUser()
    {
        var byDay = await GetJsonAsync(_f.Gateway.Admin.Client, "/api/admin/usage");
        Assert.Equal((6L, 1L, 25L, 35L, 60L), Totals(byDay.GetProperty("totals")));
        Assert.Equal(Today, Assert.Single(byDay.GetProperty("data").EnumerateArray()).GetProperty("day").GetString());

        var byUser = await GetJsonAsync(_f.Gateway.Admin.Client, "/api/admin/usage?group_by=user");
        var users = byUser.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("user_id").GetGuid());
        Assert.Equal(2, users.Count);
        Assert.Equal((_f.Gateway.User.Email, (5L, 1L, 20L, 28L, 48L)), (users[_f.Gateway.User.Id].GetProperty("user_email").GetString(), Totals(users[_f.Gateway.User.Id])));
        Assert.Equal((_f.Other.Email, (1L, 0L, 5L, 7L, 12L)), (users[_f.Other.Id].GetProperty("user_email").GetString(), Totals(users[_f.Other.Id])));

        var one = await GetJsonAsync(_f.Gateway.Admin.Client, $"/api/admin/usage?group_by=model&user_id={_f.Other.Id}");
        var model = Assert.Single(one.GetProperty("data").EnumerateArray());
        Assert.Equal((Model, (1L, 0L, 5L, 7L, 12L)), (model.GetProperty("model").GetString(), Totals(model)));

        var byKey = await GetJsonAsync(_f.Gateway.Admin.Client, "/api/admin/usage?group_by=key");
        var keys = byKey.GetProperty("data").EnumerateArray().ToDictionary(e => e.GetProperty("key_id").GetGuid());
        Assert.Equal(3, keys.Count);
        Assert.Equal(("other key", _f.Other.Id), (keys[_f.OtherKeyId].GetProperty("key_name").GetString(), keys[_f.OtherKeyId].GetProperty("user_id").GetGuid()));

        var onlyModel = await GetJsonAsync(_f.Gateway.Admin.Client, $"/api/admin/usage?model={OtherModel}");
        Assert.Equal((1L, 0L, 5L, 7L, 12L), Totals(onlyModel.GetProperty("totals")));
    }

    [Fact]
    public async Task AdminUsage_IsForbiddenToCustomers_AndValidatesItsInput()
    {
        using var forbidden = await _f.Gateway.User.Client.GetAsync(Url("/api/admin/usage"));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        using var badGrouping = await _f.Gateway.Admin.Client.GetAsync(Url("/api/admin/usage?group_by=week"));
        await AssertFieldErrorAsync(badGrouping, "group_by", "admin group_by=week");
        using var badRange = await _f.Gateway.Admin.Client.GetAsync(Url("/api/admin/usage?from=2026-03-01&to=2026-02-01"));
        await AssertFieldErrorAsync(badRange, "from", "admin from after to");
    }
}
