using System.Security.Claims;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Hosting.Http;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace BluesMinds.Gateway.Features.Accounts.Sessions;

/// <summary>
/// The session scheme: a JWT from <c>Authorization: Bearer</c> or the session cookie, accepted only
/// while its session row is unrevoked and its user active. There is no default scheme, so requests
/// to routes that need no session (the gateway hot path above all) never pay for it.
/// </summary>
internal static class SessionAuthentication
{
    public const string Scheme = "Session";
    public const string UserPolicy = "user";
    public const string AdminPolicy = "admin";

    public static WebApplicationBuilder AddSessionAuthentication(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SessionTokens>();
        // With one scheme registered ASP.NET Core would make it the default and run it on every
        // request, the gateway's hot path included, which sends API keys as Bearer tokens too.
        AppContext.SetSwitch("Microsoft.AspNetCore.Authentication.SuppressAutoDefaultScheme", true);
        builder.Services.AddAuthentication()
            .AddJwtBearer(Scheme, _ => { });
        SkipDataProtectionKeyRingAtStart(builder.Services);
        builder.Services.AddOptions<JwtBearerOptions>(Scheme).Configure<SessionTokens>((o, tokens) =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = SessionTokens.Issuer,
                ValidAudience = SessionTokens.Audience,
                IssuerSigningKey = tokens.SigningKey,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = JwtRegisteredClaimNames.Sub,
                RoleClaimType = "role",
            };
            o.Events = new JwtBearerEvents
            {
                OnMessageReceived = ReadCookieWhenNoHeader,
                OnTokenValidated = CheckSessionIsLive,
                OnChallenge = WriteChallenge,
            };
        });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(UserPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser().RequireRole(UserRoles.Admin));
        return builder;
    }

    // AddAuthentication registers data protection for cookie and remote-login schemes. The session
    // scheme never protects data with it (its cookie carries the signed JWT itself), yet data
    // protection's hosted service would read, and on a first start write, an XML key ring under
    // $HOME at every start: the XML stack loaded in every replica, and a file, for nothing. Were
    // anything to protect data later, the key ring would still load on that first use.
    private static void SkipDataProtectionKeyRingAtStart(IServiceCollection services)
    {
        var warmUps = services
            .Where(d => d.ServiceType == typeof(IHostedService)
                && d.ImplementationType?.FullName == "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService")
            .ToList();
        foreach (var warmUp in warmUps)
        {
            services.Remove(warmUp);
        }
    }

    /// <summary>
    /// Authentication and authorization for every route but the gateway's (<see cref="ApiKeyEndpoint"/>),
    /// which check API keys themselves and carry no policy: there both middlewares only cost time.
    /// </summary>
    public static WebApplication UseSessionAuthentication(this WebApplication app)
    {
        IApplicationBuilder? branch = null;
        app.UseWhen(c => !ApiKeyEndpoint.Matches(c), b =>
        {
            b.UseAuthentication();
            b.UseAuthorization();
            branch = b;
        });

        // The branch records that both middlewares are in the pipeline; copied to the app, those
        // markers stop WebApplication from adding its own authentication in front of every route.
        var markers = ((IApplicationBuilder)app).Properties;
        foreach (var (key, value) in branch!.Properties)
        {
            markers.TryAdd(key, value);
        }

        return app;
    }

    private static Task ReadCookieWhenNoHeader(MessageReceivedContext context)
    {
        var request = context.Request;
        if (request.Headers.Authorization.Count == 0 && request.Cookies.TryGetValue(SessionTokens.CookieName, out var cookie) && cookie.Length > 0)
        {
            context.Token = cookie;
            context.HttpContext.Items[CurrentSession.ViaCookieItem] = true;
        }

        return Task.CompletedTask;
    }

    /// <summary>Logout, password changes and suspensions revoke server-side: the token alone is not enough.</summary>
    private static async Task CheckSessionIsLive(TokenValidatedContext context)
    {
        var principal = context.Principal!;
        if (!Guid.TryParse(principal.FindFirstValue(JwtRegisteredClaimNames.Sub), out var userId)
            || !Guid.TryParse(principal.FindFirstValue(SessionTokens.SessionIdClaim), out var sessionId))
        {
            context.Fail("The session token is malformed.");
            return;
        }

        var db = context.HttpContext.RequestServices.GetRequiredService<GatewayDbContext>();
        var now = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var live = await db.UserSessions
            .Where(s => s.Id == sessionId && s.UserId == userId && s.RevokedAt == null && s.ExpiresAt > now)
            .Join(db.Users, s => s.UserId, u => u.Id, (s, u) => new { u.Status, u.Role })
            .SingleOrDefaultAsync(context.HttpContext.RequestAborted);
        if (live is null || live.Status != UserStatuses.Active)
        {
            context.Fail("The session has ended.");
            return;
        }

        // The role comes from the database, so a change applies to open sessions at once.
        context.Principal = new ClaimsPrincipal(new ClaimsIdentity(
            [
                new Claim(JwtRegisteredClaimNames.Sub, userId.ToString()),
                new Claim(SessionTokens.SessionIdClaim, sessionId.ToString()),
                new Claim("role", live.Role),
            ],
            Scheme,
            JwtRegisteredClaimNames.Sub,
            "role"));
    }

    private static async Task WriteChallenge(JwtBearerChallengeContext context)
    {
        context.HandleResponse();
        context.Response.Headers.WWWAuthenticate = "Bearer";
        var detail = context.AuthenticateFailure is null
            ? "Sign in first: send the session cookie or Authorization: Bearer <token>."
            : "The session is invalid or has ended; sign in again.";
        await ApiErrors.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized", detail, "unauthorized");
    }
}
