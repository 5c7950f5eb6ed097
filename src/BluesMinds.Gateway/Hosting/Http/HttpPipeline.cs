using System.Net;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.HttpOverrides;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>The cross-cutting HTTP behaviour every route gets, in the order it runs.</summary>
internal static class HttpPipeline
{
    public const string CorsPolicy = "configured-origins";

    /// <summary>Where the gateway listens when neither ASPNETCORE_URLS nor ASPNETCORE_HTTP(S)_PORTS says.</summary>
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplicationBuilder AddGatewayHttp(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var app = builder.Configuration.BindOrDefault<AppOptions>(AppOptions.Section) ?? new AppOptions();
        var security = builder.Configuration.BindOrDefault<SecurityOptions>(SecurityOptions.Section) ?? new SecurityOptions();

        // The default address applies only when the operator named none. As "Urls" in appsettings.json
        // it beat ASPNETCORE_URLS and ASPNETCORE_HTTP_PORTS (app configuration overrides the host's),
        // so a gateway started from its own directory ignored the address it was given.
        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration[WebHostDefaults.ServerUrlsKey])
            && string.IsNullOrEmpty(configuration[WebHostDefaults.HttpPortsKey])
            && string.IsNullOrEmpty(configuration[WebHostDefaults.HttpsPortsKey])
            && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = app.MaxRequestBodyBytes;
        });

        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Instance ??= c.HttpContext.Request.Path;
            c.ProblemDetails.Extensions["request_id"] = c.HttpContext.TraceIdentifier;
        });
        services.AddExceptionHandler<GatewayExceptionHandler>();
        // Malformed bodies become exceptions the handler turns into a clear 400, not an empty response.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        });

        services.AddCors(o => o.AddPolicy(CorsPolicy, policy =>
        {
            var origins = security.CorsOriginList();
            if (origins.Contains("*"))
            {
                // Only reachable outside Production (validation refuses it there); no credentials with a wildcard.
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins([.. origins]).AllowCredentials();
            }

            policy.AllowAnyHeader()
                .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                .WithExposedHeaders(RequestIdMiddleware.HeaderName, "Retry-After")
                .SetPreflightMaxAge(TimeSpan.FromHours(1));
        }));

        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // Only the proxies the operator names are believed; the loopback default is dropped too.
            o.KnownIPNetworks.Clear();
            o.KnownProxies.Clear();
            foreach (var entry in app.TrustedProxyList())
            {
                if (IPAddress.TryParse(entry, out var address))
                {
                    o.KnownProxies.Add(address);
                }
                else if (System.Net.IPNetwork.TryParse(entry, out var network))
                {
                    o.KnownIPNetworks.Add(network);
                }
            }
        });

        services.AddHsts(o =>
        {
            o.MaxAge = TimeSpan.FromDays(365);
            o.IncludeSubDomains = true;
        });
        services.AddHttpsRedirection(o =>
        {
            o.RedirectStatusCode = StatusCodes.Status308PermanentRedirect;
            o.HttpsPort = Uri.TryCreate(app.Url, UriKind.Absolute, out var url) && url.Scheme == "https" ? url.Port : 443;
        });

        return builder;
    }

    public static WebApplication UseGatewayHttp(this WebApplication app)
    {
        if (InlineSocketIo.Enabled)
        {
            // Only the gateway's routes run on the socket thread that read them: the others read
            // the database (SQLite blocks), hash passwords and render pages.
            app.Use(static (context, next) => ApiKeyEndpoint.Matches(context) ? next(context) : OnPoolAsync(context, next));
        }

        // Without a trusted proxy the middleware could only ever ignore the headers: skip it.
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AppOptions>>().Value.TrustedProxyList().Count > 0)
        {
            app.UseForwardedHeaders();
        }

        app.UseMiddleware<RequestIdMiddleware>();
        app.UseMiddleware<SecurityHeadersMiddleware>();
        app.UseExceptionHandler();
        // Empty error responses (unknown route, wrong method) get a body in the route's error format.
        // Not around the gateway routes, which write every error's body themselves: the middleware
        // set a feature and awaited every request, the hottest ones included.
        app.UseWhen(c => !ApiKeyEndpoint.Matches(c), b => b.UseStatusCodePages(c => ApiErrors.WriteAsync(
            c.HttpContext,
            c.HttpContext.Response.StatusCode,
            Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(c.HttpContext.Response.StatusCode),
            StatusDetail(c.HttpContext),
            c.HttpContext.Response.StatusCode switch
            {
                404 => "not_found",
                405 => "method_not_allowed",
                415 => "unsupported_media_type",
                _ => null,
            })));
        if (app.Environment.IsProduction())
        {
            app.UseHsts();
            // Probes from inside the cluster speak plain HTTP to the pod and must not be redirected.
            app.UseWhen(c => !c.Request.Path.StartsWithSegments("/api/health", StringComparison.OrdinalIgnoreCase), b => b.UseHttpsRedirection());
        }

        app.UseMiddleware<RequestBodyLimitMiddleware>();
        // CORS concerns only requests that carry an Origin (preflights included), and the middleware
        // resolves its policy provider from the request's services, which created a container scope
        // for every request, browser or not, before it looked for the header.
        app.UseWhen(c => c.Request.Headers.Origin.Count > 0, b => b.UseCors(CorsPolicy));
        return app;
    }

    private static async Task OnPoolAsync(HttpContext context, RequestDelegate next)
    {
        await InlineSocketIo.LeaveAsync();
        await next(context);
    }

    private static string StatusDetail(HttpContext context) => context.Response.StatusCode switch
    {
        403 => "You do not have permission for this route.",
        404 => $"No route matches {context.Request.Method} {context.Request.Path}.",
        405 => $"{context.Request.Method} is not allowed on {context.Request.Path}.",
        415 => "The request body must be JSON, sent with Content-Type: application/json.",
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(context.Response.StatusCode),
    };
}
