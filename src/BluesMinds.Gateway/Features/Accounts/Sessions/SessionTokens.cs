using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace BluesMinds.Gateway.Features.Accounts.Sessions;

/// <summary>
/// Issues session tokens (HS256 JWTs under a key derived from <c>JWT_SECRET</c>), the cookies that
/// carry them, and the CSRF token bound to each session.
/// </summary>
internal sealed class SessionTokens
{
    public const string CookieName = "bm_session";
    public const string CsrfCookieName = "bm_csrf";
    public const string CsrfHeaderName = "X-CSRF-Token";
    public const string Issuer = "bluesminds-gateway";
    public const string Audience = "bluesminds-gateway";
    public const string SessionIdClaim = "sid";

    private readonly JsonWebTokenHandler _handler = new();
    private readonly byte[] _csrfKey;
    private readonly IHostEnvironment _environment;
    private readonly TimeProvider _time;

    public SessionTokens(IOptions<SecurityOptions> options, IHostEnvironment environment, TimeProvider time)
    {
        var secret = Encoding.UTF8.GetBytes(options.Value.JwtSecret ?? string.Empty);
        // Separate keys for separate purposes, both from the one configured secret.
        SigningKey = new SymmetricSecurityKey(HMACSHA256.HashData(secret, "bluesminds/session-signing"u8));
        _csrfKey = HMACSHA256.HashData(secret, "bluesminds/csrf"u8);
        Lifetime = TimeSpan.FromMinutes(options.Value.SessionLifetimeMinutes);
        _environment = environment;
        _time = time;
    }

    public SymmetricSecurityKey SigningKey { get; }

    public TimeSpan Lifetime { get; }

    public string Create(Guid userId, Guid sessionId, string role, DateTime expiresAt) => _handler.CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = Audience,
        IssuedAt = _time.GetUtcNow().UtcDateTime,
        NotBefore = _time.GetUtcNow().UtcDateTime,
        Expires = expiresAt,
        Subject = new ClaimsIdentity([
            new Claim(JwtRegisteredClaimNames.Sub, userId.ToString()),
            new Claim(SessionIdClaim, sessionId.ToString()),
            new Claim("role", role),
        ]),
        SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.HmacSha256),
    });

    /// <summary>The CSRF token of a session: derived, so the server stores nothing and a token fits only its session.</summary>
    public string CsrfToken(Guid sessionId) => Base64Url.EncodeToString(HMACSHA256.HashData(_csrfKey, sessionId.ToByteArray()));

    public bool IsValidCsrfToken(Guid sessionId, string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(CsrfToken(sessionId)), Encoding.ASCII.GetBytes(presented));

    public void WriteCookies(HttpResponse response, string token, Guid sessionId, DateTime expiresAt)
    {
        var secure = !_environment.IsDevelopment();
        response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = true,
            Secure = secure,
            SameSite = SameSiteMode.Lax,
            Path = "/",
            Expires = expiresAt,
            IsEssential = true,
        });
        // Readable by the dashboard's script, which echoes it in X-CSRF-Token (double submit).
        response.Cookies.Append(CsrfCookieName, CsrfToken(sessionId), new CookieOptions
        {
            HttpOnly = false,
            Secure = secure,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            Expires = expiresAt,
            IsEssential = true,
        });
    }

    public void ClearCookies(HttpResponse response)
    {
        var secure = !_environment.IsDevelopment();
        response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", Secure = secure, HttpOnly = true, SameSite = SameSiteMode.Lax });
        response.Cookies.Delete(CsrfCookieName, new CookieOptions { Path = "/", Secure = secure, SameSite = SameSiteMode.Strict });
    }
}
