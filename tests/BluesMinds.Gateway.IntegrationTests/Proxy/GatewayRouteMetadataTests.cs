using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace BluesMinds.Gateway.IntegrationTests.Proxy;

/// <summary>
/// Routes marked <see cref="ApiKeyEndpoint"/> skip the session authentication and authorization
/// middlewares. That is safe only while exactly the gateway routes carry the mark and none of them
/// asks for a policy: a policy there would no longer be checked by the middleware.
/// </summary>
public sealed class GatewayRouteMetadataTests
{
    [Fact]
    public async Task OnlyTheGatewayRoutesSkipSessionAuthentication_AndNoneOfThemAsksForAPolicy()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => !e.RoutePattern.RawText!.Contains("/test/", StringComparison.Ordinal))
            .ToList();
        static bool IsGateway(RouteEndpoint e) =>
            e.RoutePattern.RawText!.StartsWith("/api/v1/", StringComparison.Ordinal) || e.RoutePattern.RawText.StartsWith("/v1/", StringComparison.Ordinal);

        var marked = endpoints.Where(e => e.Metadata.GetMetadata<ApiKeyEndpoint>() is not null).ToList();
        Assert.Equal(
            ["/api/v1/chat/completions", "/api/v1/embeddings", "/api/v1/models", "/v1/chat/completions", "/v1/embeddings", "/v1/models"],
            marked.Select(e => e.RoutePattern.RawText!).Order(StringComparer.Ordinal));
        Assert.All(endpoints.Where(IsGateway), e => Assert.Contains(e, marked));
        Assert.All(marked, e => Assert.Empty(e.Metadata.GetOrderedMetadata<IAuthorizeData>()));

        // The session-protected routes are still there, unmarked, and so still pass the middlewares.
        var protectedRoutes = endpoints.Where(e => e.Metadata.GetOrderedMetadata<IAuthorizeData>().Count > 0).ToList();
        Assert.Contains(protectedRoutes, e => e.RoutePattern.RawText!.StartsWith("/api/admin/", StringComparison.Ordinal));
        Assert.Contains(protectedRoutes, e => e.RoutePattern.RawText!.StartsWith("/api/keys", StringComparison.Ordinal));
        Assert.DoesNotContain(protectedRoutes, e => e.Metadata.GetMetadata<ApiKeyEndpoint>() is not null);
    }
}
