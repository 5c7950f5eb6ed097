using System.Text;

namespace BluesMinds.Gateway.Features.Shared;

/// <summary>Who is calling, as far as the audit log and throttling need to know.</summary>
internal static class ClientInfo
{
    private const int MaxUserAgent = 512;

    public static string? IpAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    /// <summary>The user agent, truncated and stripped of anything that is not printable text.</summary>
    public static string? UserAgent(HttpContext context)
    {
        var agent = context.Request.Headers.UserAgent.ToString();
        if (agent.Length == 0)
        {
            return null;
        }

        var clean = new StringBuilder(Math.Min(agent.Length, MaxUserAgent));
        foreach (var c in agent)
        {
            if (clean.Length == MaxUserAgent)
            {
                break;
            }

            if (!char.IsControl(c) && !char.IsSurrogate(c))
            {
                clean.Append(c);
            }
        }

        return clean.ToString();
    }
}
