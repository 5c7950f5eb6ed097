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
public sealed partial class GarbageCollectorProcessTests
{
    private const long Cap = 10 * 1024 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    // Shipped: at most 10 MB whatever cache size the CPU reports (the runtime's own budget is half
    // the L3 cache when that is larger than 6 MB: 16 MB on a 32 MB L3), and the runtime's own figure
    // where it is lower (6 MB where the CPU reports no cache).
    [InlineData(null, null, null)]
    // The operator's override, in the spelling the runtime reads (below 6 MB, so that the runtime's
    // own budget is above it on every host).
    [InlineData("DOTNET_GCGen0MaxBudget", "0x400000", 4_194_304L)]
    public async Task Gen0Budget_IsCappedAndReportedAtStartUp(string? variable, string? value, long? expected)
    {
        await using var database = await TestDatabase.CreateAsync(DatabaseProvider.Sqlite);
        var environment = GatewayProcess.Development("ops@example.com");
        if (variable is not null)
        {
            environment[variable] = value;
        }

        await using var gateway = GatewayProcess.Start(database.Directory, environment);
        using var client = new HttpClient { BaseAddress = await gateway.WaitForListeningAsync(Timeout) };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/health/live", UriKind.Relative), TestContext.Current.CancellationToken)).StatusCode);

        var reported = GarbageCollectorLine().Match(gateway.Output);
        Assert.True(reported.Success, "The start-up log has no garbage collector line.");
        var budget = long.Parse(reported.Groups["budget"].Value, CultureInfo.InvariantCulture);
        if (expected is { } exact)
        {
            Assert.Equal(exact, budget);
        }
        else
        {
            Assert.InRange(budget, 1, Cap);
        }
    }

    [GeneratedRegex(@"Garbage collector: workstation, concurrent; generation-0 budget at most (?<budget>\d+) bytes")]
    private static partial Regex GarbageCollectorLine();
}
