using System.Buffers;
using System.Text.Json.Nodes;
using BluesMinds.Gateway.Proxy.ModelRouting;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.Forwarding;

/// <summary>
/// Stage 4: sends the request to the candidates in order and relays the first usable answer.
/// Connection failures, timeouts, 5xx and 429 move on to the next candidate, but only while no
/// byte has reached the client; after that a failure ends the stream with an SSE error event.
/// </summary>
internal sealed partial class UpstreamForwarder(
    UpstreamClient client,
    UpstreamHealthRegistry health,
    IOptions<UpstreamOptions> options,
    TimeProvider time,
    ILogger<UpstreamForwarder> logger)
{
    private const int BufferSize = 16 * 1024;

    private enum Failure
    {
        None,
        Upstream,
        Timeout,
    }

    public async Task ForwardAsync(ProxyContext context, IReadOnlyList<UpstreamServer> candidates, UsageReader usage)
    {
        var settings = options.Value;
        var http = context.Http;
        var body = UpstreamBody(context);
        var path = context.Operation == ProxyOperation.ChatCompletions ? UpstreamServer.ChatCompletionsPath : UpstreamServer.EmbeddingsPath;
        var lastFailure = Failure.None;
        var attempts = 0;

        for (var i = 0; i < candidates.Count; i++)
        {
            var server = candidates[i];
            if (attempts >= settings.MaxAttempts)
            {
                break;
            }

            var serverHealth = health.For(server.Id);
            if (!serverHealth.TryAcquire(time.GetUtcNow()))
            {
                continue;
            }

            attempts++;
            using var request = new HttpRequestMessage(HttpMethod.Post, server.EndpointUri(path))
            {
                Content = new ReadOnlyMemoryContent(body),
                Version = System.Net.HttpVersion.Version11,
            };
            // As text: a parsed MediaTypeHeaderValue per request would only be written back out.
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            request.Headers.TryAddWithoutValidation("X-Request-Id", context.Usage.RequestId);
            UpstreamClient.Authorize(request, server);

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            attempt.CancelAfter(TimeSpan.FromSeconds(settings.ResponseTimeoutSeconds));
            HttpResponseMessage response;
            try
            {
                response = await client.SendAsync(request, attempt.Token);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                serverHealth.ReleaseProbe();
                context.Usage.ClientDisconnected = true;
                context.Usage.StatusCode = 499;
                context.Usage.ErrorCode = "client_disconnected";
                return;
            }
            catch (OperationCanceledException)
            {
                LogAttemptFailed(logger, server.Name, "timed out waiting for response headers");
                serverHealth.RecordFailure(time.GetUtcNow(), settings.CircuitFailureThreshold, TimeSpan.FromSeconds(settings.CircuitBreakSeconds));
                lastFailure = lastFailure == Failure.Upstream ? Failure.Upstream : Failure.Timeout;
                continue;
            }
            catch (HttpRequestException ex)
            {
                LogAttemptFailed(logger, server.Name, ex.HttpRequestError.ToString());
                serverHealth.RecordFailure(time.GetUtcNow(), settings.CircuitFailureThreshold, TimeSpan.FromSeconds(settings.CircuitBreakSeconds));
                lastFailure = Failure.Upstream;
                continue;
            }

            using (response)
            {
                // Headers arrived in time; from here on only the idle timeout applies.
                attempt.CancelAfter(Timeout.InfiniteTimeSpan);
                var status = (int)response.StatusCode;
                if (status == 429 || status >= 500)
                {
                    LogAttemptFailed(logger, server.Name, $"HTTP {status}");
                    serverHealth.RecordFailure(time.GetUtcNow(), settings.CircuitFailureThreshold, TimeSpan.FromSeconds(settings.CircuitBreakSeconds), RetryAfter(response));
                    lastFailure = Failure.Upstream;
                    continue;
                }

                context.Usage.ServerId = server.Id;
                context.Usage.ModelServed = context.UpstreamModel;
                context.Usage.StatusCode = status;
                var healthy = await RelayAsync(context, response, usage, attempt);
                if (healthy)
                {
                    serverHealth.RecordSuccess();
                }
                else if (!context.Usage.ClientDisconnected)
                {
                    serverHealth.RecordFailure(time.GetUtcNow(), settings.CircuitFailureThreshold, TimeSpan.FromSeconds(settings.CircuitBreakSeconds));
                }
                else
                {
                    serverHealth.ReleaseProbe();
                }

                return;
            }
        }

        await (lastFailure switch
        {
            Failure.Timeout => ProxyErrors.WriteAsync(context, 504, "No upstream server answered in time.", "upstream_timeout"),
            Failure.Upstream => ProxyErrors.WriteAsync(context, 502, "The upstream servers failed to answer this request.", "upstream_error"),
            _ => ProxyErrors.WriteAsync(context, 503, $"No healthy upstream server is available for model '{context.Peek!.Model}' right now.", "no_available_upstream"),
        });
    }

    /// <summary>
    /// Relays the response. The attempt's cancellation (the client's abort linked in) is re-armed
    /// as the idle timeout before each read, so a request holds one timer, not two.
    /// </summary>
    /// <returns>False when the upstream failed while relaying (a mark against its health).</returns>
    private async Task<bool> RelayAsync(ProxyContext context, HttpResponseMessage response, UsageReader usage, CancellationTokenSource attempt)
    {
        var http = context.Http;
        var streaming = response.Content.Headers.ContentType?.MediaType == "text/event-stream";
        context.Usage.Streamed = streaming;
        http.Response.StatusCode = (int)response.StatusCode;
        if (response.Content.Headers.ContentType is { } contentType)
        {
            http.Response.ContentType = contentType.ToString();
        }

        if (streaming)
        {
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers["X-Accel-Buffering"] = "no";
        }
        else if (response.Content.Headers.ContentLength is { } length)
        {
            http.Response.ContentLength = length;
        }

        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var idle = TimeSpan.FromSeconds(options.Value.StreamIdleTimeoutSeconds);
        try
        {
            await using var upstream = await response.Content.ReadAsStreamAsync(attempt.Token);
            while (true)
            {
                int read;
                try
                {
                    attempt.CancelAfter(idle);
                    read = await upstream.ReadAsync(buffer.AsMemory(0, BufferSize), attempt.Token);
                }
                catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
                {
                    return MarkDisconnected(context);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException)
                {
                    var timedOut = ex is OperationCanceledException;
                    context.Usage.ErrorCode = timedOut ? "upstream_idle_timeout" : "upstream_stream_error";
                    await FailStartedResponseAsync(http, streaming, timedOut
                        ? "The upstream server stopped sending data."
                        : "The upstream connection failed while the response was being sent.", context.Usage.ErrorCode);
                    return false;
                }

                if (read == 0)
                {
                    break;
                }

                context.Usage.TimeToFirstByteMs ??= context.ElapsedMs;
                usage.Observe(buffer.AsSpan(0, read));
                try
                {
                    await http.Response.Body.WriteAsync(buffer.AsMemory(0, read), http.RequestAborted);
                    await http.Response.Body.FlushAsync(http.RequestAborted);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException)
                {
                    return MarkDisconnected(context);
                }
            }

            if (streaming && !usage.SawDone && usage.ChunkCount > 0 && context.Operation == ProxyOperation.ChatCompletions)
            {
                // The upstream closed the stream without [DONE]: say so rather than let it look complete.
                context.Usage.ErrorCode = "upstream_stream_incomplete";
                await FailStartedResponseAsync(http, streaming, "The upstream server ended the stream early.", context.Usage.ErrorCode);
                return false;
            }

            usage.Complete();
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool MarkDisconnected(ProxyContext context)
    {
        context.Usage.ClientDisconnected = true;
        context.Usage.ErrorCode ??= "client_disconnected";
        return false;
    }

    private static async Task FailStartedResponseAsync(HttpContext http, bool streaming, string message, string code)
    {
        if (streaming)
        {
            try
            {
                await ProxyErrors.WriteStreamErrorAsync(http, message, code);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // The client is gone too.
            }
        }
        else
        {
            // A JSON body cut short must not look complete: break the connection.
            http.Abort();
        }
    }

    /// <summary>The body sent upstream: unchanged, unless the model is an alias or the stream needs usage reporting.</summary>
    private static ReadOnlyMemory<byte> UpstreamBody(ProxyContext context)
    {
        var peek = context.Peek!;
        var needsUsage = peek.Stream && context.Operation == ProxyOperation.ChatCompletions;
        var aliased = !string.Equals(peek.Model, context.UpstreamModel, StringComparison.Ordinal);
        if (!needsUsage && !aliased)
        {
            return context.Body;
        }

        if (!aliased && !peek.HasStreamOptions && peek.Model is not null)
        {
            // The common stream: one member spliced in after the opening brace, without a document
            // (the object has members, at least model, so the comma is always followed by one).
            return WithIncludeUsage(context.Body.Span);
        }

        var root = JsonNode.Parse(context.Body.Span)!.AsObject();
        root["model"] = context.UpstreamModel;
        if (needsUsage)
        {
            if (root["stream_options"] is not JsonObject streamOptions)
            {
                streamOptions = new JsonObject();
                root["stream_options"] = streamOptions;
            }

            streamOptions["include_usage"] = true;
        }

        return System.Text.Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static byte[] WithIncludeUsage(ReadOnlySpan<byte> body)
    {
        var member = "\"stream_options\":{\"include_usage\":true},"u8;
        var brace = body.IndexOf((byte)'{') + 1;
        var result = new byte[body.Length + member.Length];
        body[..brace].CopyTo(result);
        member.CopyTo(result.AsSpan(brace));
        body[brace..].CopyTo(result.AsSpan(brace + member.Length));
        return result;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return header?.Date is { } date ? date - DateTimeOffset.UtcNow : null;
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Warning, Message = "Upstream {Server} failed: {Reason}; trying the next candidate")]
    private static partial void LogAttemptFailed(ILogger logger, string server, string reason);
}
