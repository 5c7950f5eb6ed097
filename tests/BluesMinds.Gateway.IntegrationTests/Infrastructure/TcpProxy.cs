using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>
/// A loopback TCP forwarder in front of a real server (PostgreSQL, Redis), so a test can take that
/// server away from one gateway without stopping it for the rest of the suite: <see cref="Cut"/>
/// drops every connection and refuses new ones, <see cref="Restore"/> lets them through again.
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly ConcurrentDictionary<TcpClient, byte> _connections = new();
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _cut;

    private TcpProxy(string targetHost, int targetPort)
    {
        _targetHost = targetHost;
        _targetPort = targetPort;
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public bool IsCut => _cut;

    public static TcpProxy Start(string targetHost, int targetPort) => new(targetHost, targetPort);

    /// <summary>A proxy in front of the host and port of <paramref name="url"/> (postgres:// or redis://).</summary>
    public static TcpProxy For(string url)
    {
        var uri = new Uri(url);
        return Start(uri.Host, uri.Port);
    }

    /// <summary><paramref name="url"/> with its host and port replaced by this proxy's.</summary>
    public string Rewrite(string url)
    {
        var builder = new UriBuilder(url) { Host = "127.0.0.1", Port = Port };
        var rewritten = builder.Uri.ToString();
        return new Uri(url).AbsolutePath.Length > 1 ? rewritten : rewritten.TrimEnd('/');
    }

    /// <summary>Drops every open connection and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _cut = true;
        foreach (var connection in _connections.Keys)
        {
            Close(connection);
        }
    }

    public void Restore() => _cut = false;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (_cut)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_targetHost, _targetPort, _stop.Token);
        }
        catch (Exception)
        {
            Close(client);
            upstream.Dispose();
            return;
        }

        _connections[client] = 0;
        _connections[upstream] = 0;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var a = CopyAsync(client, upstream, done.Token);
        var b = CopyAsync(upstream, client, done.Token);
        await Task.WhenAny(a, b);
        await done.CancelAsync();
        Close(client);
        Close(upstream);
    }

    private static async Task CopyAsync(TcpClient from, TcpClient to, CancellationToken cancellationToken)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), cancellationToken);
        }
        catch (Exception)
        {
            // A cut or a closed peer ends the pipe; either way both sides are closed.
        }
    }

    private void Close(TcpClient connection)
    {
        _connections.TryRemove(connection, out _);
        try
        {
            connection.Client.LingerState = new LingerOption(true, 0);
        }
        catch (Exception)
        {
        }

        connection.Dispose();
    }
}
