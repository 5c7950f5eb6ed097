using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;
using static BluesMinds.Gateway.IntegrationTests.Usage.UsageTestKit;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// Whatever a client puts in its request, the record of that request can be stored: no single
/// request may stop the usage writer, for this client or anyone else.
/// </summary>
public sealed class UsagePoisonRecordTests
{
    public static TheoryData<string, string> OddModelNames => new()
    {
        // RequestPeek accepts model names up to 256 characters; usage_logs.model_requested and
        // usage_daily.model are 200 characters long.
        { "201 characters", new string('m', 201) },
        { "256 characters", new string('m', 256) },

        // Valid JSON and valid UTF-16, but PostgreSQL text cannot hold a NUL character.
        { "a NUL character", "gpt-4o-mini\u0000" },
    };

    [Theory]
    [MemberData(nameof(OddModelNames))]
    public async Task ARequestForAnOddModelName_IsRecorded_AndUsageKeepsFlowingForEveryoneAfterIt(string what, string model)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha");
        await using var app = new GatewayApp(database, Settings());
        var gateway = await StartAsync(app);
        await gateway.AddServerAsync(upstream);
        var client = gateway.CreateKeyClient();
        var before = await ChatOkAsync(client);
        await WaitForRowsAsync(database, [before]);

        using var odd = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent(JsonSerializer.Serialize(new
        {
            model,
            messages = new[] { new { role = "user", content = "hello" } },
        })));
        var oddId = RequestId(odd);
        Assert.True(odd.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.BadRequest, $"{what}: {(int)odd.StatusCode} {await odd.Content.ReadAsStringAsync()}");

        var after = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            after.Add(await ChatOkAsync(client));
        }

        // Another customer's traffic is recorded too.
        var other = await SignUpUserAsync(app);
        var (_, otherKey) = await CreateKeyAsync(other.Client);
        after.Add(await ChatOkAsync(gateway.CreateKeyClient(otherKey)));

        var rows = await WaitForRowsAsync(database, [before, oddId, .. after], TimeSpan.FromSeconds(10));
        AssertExactlyOnce(rows, [before, oddId, .. after]);
        await AssertRollupsMatchLogsAsync(database);
        Assert.True(await EventuallyAsync(() => Task.FromResult(JournalLength(database) == 0), TimeSpan.FromSeconds(5)), "nothing is left waiting in the journal");
    }
}
