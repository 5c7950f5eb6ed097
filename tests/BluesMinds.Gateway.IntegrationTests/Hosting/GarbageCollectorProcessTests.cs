using System.Net;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;

namespace BluesMinds.Gateway.IntegrationTests.Hosting;

/// <summary>
/// The garbage collector reads its settings before the gateway's code runs, from the project's
/// runtime configuration and the environment, so they are checked on a gateway process of its own.
/// </summary>
public sealed class GarbageCollectorProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    // Shipped: at most 10 MB whatever cache size the CPU reports (its floor is 5/8 of the L3 cache
    // otherwise, 16 MB on a 32 MB L3); 6 MB where the CPU reports none (the concurrent collector's own cap).
    [InlineData(null, null, "generation-0 budget at most ")]
    // The operator's override, in the spelling the runtime reads.
    [InlineData("DOTNET_GCGen0MaxBudget", "0x1000000", "generation-0 budget at most 16777216 bytes")]
    public async Task Gen0Budget_IsCappedAndReportedAtStartUp(string? variable, string? value, string expected)
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ADMIN_EMAILS"] = "ops@example.com",
            ["Logging__LogLevel__Default"] = "Information",
        };
        if (variable is not null)
        {
            environment[variable] = value;
        }

        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        using var client = new HttpClient { BaseAddress = await gateway.WaitForListeningAsync(Timeout) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/health/live", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

        Assert.Contains("Garbage collector: workstation, concurrent; " + expected, gateway.Output, StringComparison.Ordinal);
        if (variable is null)
        {
            Assert.Matches(@"generation-0 budget at most (6291456|10485760) bytes", gateway.Output);
        }
    }
}
