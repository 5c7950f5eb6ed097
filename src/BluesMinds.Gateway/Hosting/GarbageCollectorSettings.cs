using System.Globalization;
using System.Runtime;

namespace BluesMinds.Gateway.Hosting;

/// <summary>
/// What the runtime's garbage collector took from the project file and the environment, for the
/// start-up log: its settings are read before any of the gateway's code runs, and a misspelt
/// <c>DOTNET_GC…</c> variable is ignored without a word (the names are case-sensitive on Linux).
/// </summary>
internal static class GarbageCollectorSettings
{
    public static string Mode => (GCSettings.IsServerGC ? "server" : "workstation")
        + (GC.GetConfigurationVariables().TryGetValue("ConcurrentGC", out var concurrent) && concurrent is true ? ", concurrent" : ", not concurrent");

    /// <summary>The largest generation-0 budget in bytes, or null when the runtime does not say.</summary>
    public static long? Gen0MaxBudgetBytes =>
        GC.GetConfigurationVariables().TryGetValue("GCGen0MaxBudget", out var value) && value is IConvertible number
            ? number.ToInt64(CultureInfo.InvariantCulture)
            : null;
}
