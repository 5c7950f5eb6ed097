using System.Net;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Limits.LimitKit;

namespace BluesMinds.Gateway.IntegrationTests.Limits;

/// <summary><c>RATE_LIMIT_ENABLED=false</c> (Development only): no limit applies and no header is sent.</summary>
public sealed class LimitsDisabledTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Disabled_NoLimitApplies_AndNoHeaderIsSent(bool redis)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var upstream = await FakeUpstream.StartAsync("alpha", GatewayServer.Model, EmbeddingModel);
        await using var app = new GatewayApp(database, Settings(redis, ("RATE_LIMIT_ENABLED", "false")));
        var gateway = await StartAsync(app, upstream);
        await SetUserLimitsAsync(database, gateway.User.Id, rpm: 1, tpm: 10, concurrent: 1, quota: 1);
        var (_, client) = await NewKeyAsync(gateway);

        var responses = new List<(string Name, HttpResponseMessage Response, HttpStatusCode Status)>();
        for (var i = 0; i < 3; i++)
        {
            responses.Add(($"chat {i}", await PostAsync(client, ChatBody(5000)), HttpStatusCode.OK));
        }

        responses.Add(("embeddings", await PostAsync(client, EmbeddingBody(), "/api/v1/embeddings"), HttpStatusCode.OK));
        responses.Add(("models", await client.GetAsync(Url("/api/v1/models")), HttpStatusCode.OK));
        responses.Add(("invalid JSON", await PostAsync(client, "{"), HttpStatusCode.BadRequest));
        upstream.StreamSlowly(5, TimeSpan.FromMilliseconds(100));
        var parallel = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => StreamToEndAsync(client, ChatBody(5000, stream: true))));
        responses.AddRange(parallel.Select(r => ("parallel stream", r, HttpStatusCode.OK)));

        foreach (var (name, response, status) in responses)
        {
            Assert.True(response.StatusCode == status, $"{name}: {Describe(response)} {await response.Content.ReadAsStringAsync()}");
            Assert.True(!response.Headers.Any(h => h.Key.StartsWith("x-ratelimit-", StringComparison.OrdinalIgnoreCase)), $"{name}: {Describe(response)}");
        }

        Assert.Equal(6, upstream.ChatCount);
    }

    [Fact]
    public async Task Disabled_IsRefusedInProduction()
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["APP_URL"] = "https://gateway.example.com",
            ["DATABASE_PROVIDER"] = database.Provider.ToString(),
            ["DATABASE_URL"] = database.Url,
            ["JWT_SECRET"] = TestEnvironmentVariables.StrongSecrets["JWT_SECRET"],
            ["API_KEY_SECRET"] = TestEnvironmentVariables.StrongSecrets["API_KEY_SECRET"],
            ["ENCRYPTION_KEY"] = TestEnvironmentVariables.StrongSecrets["ENCRYPTION_KEY"],
            ["BCRYPT_ROUNDS"] = "10",
            ["ADMIN_EMAILS"] = "ops@example.com",
            ["RATE_LIMIT_ENABLED"] = "false",
        };

        await using var gateway = GatewayProcess.Start(database.Directory, environment);

        Assert.NotEqual(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("RATE_LIMIT_ENABLED=false is refused in Production", gateway.Output, StringComparison.Ordinal);
    }
}
