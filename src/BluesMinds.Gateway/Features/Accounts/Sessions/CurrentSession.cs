using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;

namespace BluesMinds.Gateway.Features.Accounts.Sessions;

/// <summary>The signed-in user and session, read from the principal the session scheme built.</summary>
internal readonly record struct CurrentSession(Guid UserId, Guid SessionId, string Role, bool ViaCookie)
{
    public const string ViaCookieItem = "bm.session.via-cookie";

    public static CurrentSession From(HttpContext context)
    {
        var user = context.User;
        return new CurrentSession(
            Guid.Parse(user.FindFirstValue(JwtRegisteredClaimNames.Sub)!),
            Guid.Parse(user.FindFirstValue(SessionTokens.SessionIdClaim)!),
            user.FindFirstValue("role")!,
            context.Items.ContainsKey(ViaCookieItem));
    }
}
