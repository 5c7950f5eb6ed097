using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Hosting;

/// <summary>
/// Inline socket I/O is a process-wide runtime mode, read once when the runtime's socket engine
/// starts, so it is tested on the gateway in a process of its own, as operators run it.
/// </summary>
public sealed class InlineSocketIoProcessTests
{
    private const string Admin = "ops@example.com";
    private const string InlineOn = "Inline socket I/O (the gateway's routes served on the socket threads): True";
    private const string InlineOff = "Inline socket I/O (the gateway's routes served on the socket threads): False";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task EmbeddedDefault_ServesEveryKindOfRouteInline()
    {
        await using var upstream = await FakeUpstream.StartAsync("inline");
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        await using var gateway = GatewayProcess.Start(database.Directory, GatewayProcess.Development(Admin));
        using var client = new HttpClient { BaseAddress = await gateway.WaitForListeningAsync(Timeout) };

        // Routes that leave the socket thread: sign-up (password hash, SQLite), admin, keys, readiness.
        var signup = await SignupAsync(client, Admin);
        Assert.Equal(HttpStatusCode.Created, signup.StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await JsonAsync(signup)).GetProperty("token").GetString());
        var server = await client.PostAsJsonAsync(Url("/api/admin/servers"), new ServerRegistration("inline", upstream.BaseUrl, ["gpt-4o-mini"]).ToJson());
        Assert.Equal(HttpStatusCode.Created, server.StatusCode);
        var (_, key) = await CreateKeyAsync(client);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Url("/api/health/ready"))).StatusCode);

        // The gateway's routes, which stay on it: the first request of a key reads the database for
        // the key, its limits and the routing table, each off the socket thread.
        using var proxy = new HttpClient { BaseAddress = client.BaseAddress };
        proxy.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var models = await proxy.GetAsync(Url("/api/v1/models"));
        var completion = await proxy.PostAsync(Url("/api/v1/chat/completions"), Json("""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"""));
        var stream = await proxy.PostAsync(Url("/api/v1/chat/completions"), Json("""{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        // A body past the inline limit: counted on the pool.
        var large = await proxy.PostAsync(Url("/api/v1/chat/completions"), Json($$"""{"model":"gpt-4o-mini","messages":[{"role":"user","content":"{{new string('a', 40_000)}}"}]}"""));

        Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        Assert.Contains("gpt-4o-mini", await models.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        Assert.Contains("Hello from inline", await completion.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        var streamed = await stream.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("\"id\":\"chatcmpl-inline-", streamed, StringComparison.Ordinal);
        Assert.Contains("\"usage\":", streamed, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", streamed, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, large.StatusCode);
        Assert.Contains(InlineOn, gateway.Output, StringComparison.Ordinal);

        // Every request above has its usage row: the dashboard reads them back.
        var usage = await PollUsageCountAsync(client, 3);
        Assert.Equal(3, usage);
    }

    [Theory]
    [InlineData("INLINE_SOCKET_IO", "false")]
    [InlineData("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "0")]
    public async Task TurnedOff_SaysSoAndStillServes(string variable, string value)
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = GatewayProcess.Development(Admin);
        environment[variable] = value;
        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        using var client = new HttpClient { BaseAddress = await gateway.WaitForListeningAsync(Timeout) };

        Assert.Equal(HttpStatusCode.Created, (await SignupAsync(client, Admin)).StatusCode);
        Assert.Contains(InlineOff, gateway.Output, StringComparison.Ordinal);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<int> PollUsageCountAsync(HttpClient client, int expected)
    {
        var count = 0;
        for (var attempt = 0; attempt < 100 && count < expected; attempt++)
        {
            var logs = await JsonAsync(await client.GetAsync(Url("/api/usage/logs")));
            count = logs.GetProperty("data").GetArrayLength();
            if (count < expected)
            {
                await Task.Delay(100);
            }
        }

        return count;
    }
}
