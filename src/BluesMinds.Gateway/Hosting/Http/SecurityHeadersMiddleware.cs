using Microsoft.Extensions.Primitives;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>The security headers every response carries, API and future dashboard alike.</summary>
internal sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    // Same-origin everything: the dashboard serves its own scripts and styles, and no page may be framed.
    private static readonly StringValues ContentSecurityPolicy = new(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'");

    private static readonly StringValues PermissionsPolicy = new(
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()");

    private static readonly StringValues NoSniff = new("nosniff");
    private static readonly StringValues Deny = new("DENY");
    private static readonly StringValues ReferrerPolicy = new("strict-origin-when-cross-origin");
    private static readonly StringValues XssProtection = new("0");
    private static readonly StringValues SameOrigin = new("same-origin");

    public Task InvokeAsync(HttpContext context)
    {
        // Set when the response starts, so that error responses (whose headers the exception handler clears) carry them too.
        context.Response.OnStarting(static state => Apply((HttpContext)state), context);
        return next(context);
    }

    private static Task Apply(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = NoSniff;
        headers.XFrameOptions = Deny;
        headers["Referrer-Policy"] = ReferrerPolicy;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Permissions-Policy"] = PermissionsPolicy;
        // The legacy XSS auditor is itself exploitable; "0" switches it off, as OWASP advises.
        headers.XXSSProtection = XssProtection;
        headers["Cross-Origin-Opener-Policy"] = SameOrigin;
        return Task.CompletedTask;
    }
}
