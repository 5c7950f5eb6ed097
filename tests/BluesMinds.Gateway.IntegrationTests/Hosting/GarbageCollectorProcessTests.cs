using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
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
    // Shipped: at most 10 MB whatever cache size the CPU reports (the runtime's own budget is half
    // the L3 cache when that is larger than 6 MB: 16 MB on a 32 MB L3).
    [InlineData(null, null, "generation-0 budget at most ")]
    // The operator's override, in the spelling the runtime reads (below 6 MB, so that the runtime's
    // own budget is above it on every host).
    [InlineData("DOTNET_GCGen0MaxBudget", "0x400000", "generation-0 budget at most 4194304 bytes")]
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
            // The runtime's own figure below the cap stands (6 MB where the CPU reports no cache).
            var budget = long.Parse(Regex.Match(gateway.Output, @"generation-0 budget at most (\d+) bytes").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(budget, 1, 10 * 1024 * 1024);
        }
    }
}
