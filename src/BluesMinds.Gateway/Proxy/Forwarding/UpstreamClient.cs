using System.Net;
using System.Net.Http.Headers;
using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Proxy.ModelRouting;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.Forwarding;

/// <summary>
/// The one pooled connection handler to every upstream (see docs/decisions/0005-forwarder.md):
/// <see cref="HttpMessageInvoker"/> over <see cref="SocketsHttpHandler"/>, no cookies, redirects,
/// proxies or decompression — bytes pass through as the upstream sent them.
/// </summary>
internal sealed class UpstreamClient : IDisposable
{
    private readonly HttpMessageInvoker _invoker;

    public UpstreamClient(IOptions<UpstreamOptions> options)
    {
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(options.Value.ConnectTimeoutSeconds),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
            // A response disposed before its end (the client went away) closes the connection at
            // once: draining it would keep the upstream generating, and billing, for seconds.
            MaxResponseDrainSize = 0,
        }, disposeHandler: true);
    }

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _invoker.SendAsync(request, cancellationToken);

    /// <summary>A GET whose body is thrown away: for health checks.</summary>
    public async Task<int> GetStatusAsync(UpstreamServer server, Uri uri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        Authorize(request, server);
        int status;
        using (var response = await _invoker.SendAsync(request, cancellationToken))
        {
            status = (int)response.StatusCode;
        }

        // The caller goes on to record the answer: on the pool, not the socket thread that read it.
        await InlineSocketIo.LeaveAsync();
        return status;
    }

    public static void Authorize(HttpRequestMessage request, UpstreamServer server)
    {
        if (server.ApiKey is { Length: > 0 } key)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    public void Dispose() => _invoker.Dispose();
}
