using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Shared;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>Opens a session for a user: the row (saved by the caller) and, once saved, the token and cookies.</summary>
internal sealed class SessionIssuer(SessionTokens tokens, TimeProvider time)
{
    public UserSession Open(GatewayDbContext db, User user, HttpContext http)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var session = new UserSession
        {
            Id = Guid.CreateVersion7(),
            UserId = user.Id,
            CreatedAt = now,
            ExpiresAt = now + tokens.Lifetime,
            IpAddress = ClientInfo.IpAddress(http),
            UserAgent = ClientInfo.UserAgent(http),
        };
        db.UserSessions.Add(session);
        return session;
    }

    public AuthResponse Respond(HttpContext http, User user, string planCode, UserSession session)
    {
        var token = tokens.Create(user.Id, session.Id, user.Role, session.ExpiresAt);
        tokens.WriteCookies(http.Response, token, session.Id, session.ExpiresAt);
        return new AuthResponse(UserResponse.From(user, planCode), token, session.ExpiresAt, tokens.CsrfToken(session.Id));
    }
}
