using System.Reflection;

namespace BluesMinds.Gateway.Hosting;

/// <summary>The product version (without the source revision suffix), for logs and <c>/api/health</c>.</summary>
internal static class GatewayVersion
{
    public static readonly string Current =
        typeof(GatewayVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
