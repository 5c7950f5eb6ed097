using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>One request as the fake upstream received it.</summary>
internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The <c>Authorization</c> header, or null when none was sent.</summary>
    public string? Authorization => Headers.TryGetValue("Authorization", out var value) ? value : null;

    public JsonNode? Json
    {
        get
        {
            try
            {
                return JsonNode.Parse(Body);
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}

/// <summary>
/// A real OpenAI-compatible server on a loopback port (Kestrel, no routing, no logging) that the
/// gateway forwards to. It records every request, and its behaviour can be switched while a test
/// runs: answer normally, answer with a status, hang, stream slowly, drop the connection mid-stream,
/// fail its health route, or stop listening altogether.
/// </summary>
internal sealed class FakeUpstream : IAsyncDisposable
{
    public const string ChatPath = "/v1/chat/completions";
    public const string EmbeddingsPath = "/v1/embeddings";
    public const string ModelsPath = "/v1/models";
    public const string LivelinessPath = "/health/liveliness";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Behavior _behavior = Behavior.Normal(3, TimeSpan.Zero);
    private int _failNext;
    private int _failNextStatus = 500;
    private int _healthStatus = 200;
    private volatile bool _livelinessMissing;
    private int _abortedCount;
    private int _chunksSent;
    private int _streamsCompleted;
    private int _stopped;

    private FakeUpstream(string name, IReadOnlyList<string> models, WebApplication app, Uri baseAddress)
    {
        Name = name;
        Models = models;
        _app = app;
        BaseAddress = baseAddress;
    }

    /// <summary>Shows in every answer (<c>Hello from {Name}</c>), so a test can tell which server answered.</summary>
    public string Name { get; }

    public IReadOnlyList<string> Models { get; }

    public Uri BaseAddress { get; }

    /// <summary>The server root, as the admin API takes it (<c>http://127.0.0.1:PORT</c>, no trailing slash).</summary>
    public string BaseUrl => BaseAddress.GetLeftPart(UriPartial.Authority);

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public int ChatCount => Count(ChatPath);

    public int EmbeddingsCount => Count(EmbeddingsPath);

    public int LivelinessCount => Count(LivelinessPath);

    /// <summary>Requests on a completion or embedding route that ended because the caller went away.</summary>
    public int AbortedCount => Volatile.Read(ref _abortedCount);

    /// <summary>Content chunks written on every stream so far.</summary>
    public int ChunksSent => Volatile.Read(ref _chunksSent);

    /// <summary>Streams that were written to their end (<c>data: [DONE]</c>).</summary>
    public int StreamsCompleted => Volatile.Read(ref _streamsCompleted);

    public static async Task<FakeUpstream> StartAsync(string name, params string[] models)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        FakeUpstream? upstream = null;
        app.Run(context => upstream!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        upstream = new FakeUpstream(name, models.Length == 0 ? ["gpt-4o-mini"] : models, app, new Uri(address));
        return upstream;
    }

    /// <summary>A loopback address nothing listens on: connecting to it is refused.</summary>
    public static string UnusedBaseUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }

    public int Count(string path) => _requests.Count(r => r.Path == path);

    public IReadOnlyList<RecordedRequest> RequestsTo(string path) => [.. _requests.Where(r => r.Path == path)];

    /// <summary>Answers normally; streams send <paramref name="chunks"/> content chunks, <paramref name="chunkDelay"/> apart.</summary>
    public void RespondNormally(int chunks = 3, TimeSpan? chunkDelay = null)
    {
        Interlocked.Exchange(ref _failNext, 0);
        _behavior = Behavior.Normal(chunks, chunkDelay ?? TimeSpan.Zero);
    }

    public void StreamSlowly(int chunks, TimeSpan chunkDelay) => RespondNormally(chunks, chunkDelay);

    /// <summary>Completion and embedding routes answer <paramref name="status"/> with <paramref name="body"/>.</summary>
    public void RespondWithStatus(int status, string? body = null, string? retryAfter = null) =>
        _behavior = new Behavior(Mode.Status, 3, TimeSpan.Zero, status, body ?? DefaultErrorBody(status), retryAfter, 0);

    /// <summary>The next <paramref name="count"/> completion or embedding requests answer <paramref name="status"/>, then the current behaviour resumes.</summary>
    public void FailNext(int count, int status = 500)
    {
        Volatile.Write(ref _failNextStatus, status);
        Interlocked.Exchange(ref _failNext, count);
    }

    /// <summary>Completion and embedding routes never answer; the request is recorded as aborted when the caller gives up.</summary>
    public void Hang() => _behavior = new Behavior(Mode.Hang, 3, TimeSpan.Zero, 200, null, null, 0);

    /// <summary>Streams send <paramref name="chunks"/> content chunks and, 300 ms later, the connection is aborted; other requests are aborted at once.</summary>
    public void DropConnectionAfter(int chunks) => _behavior = new Behavior(Mode.Drop, chunks + 10, TimeSpan.Zero, 200, null, null, chunks);

    /// <summary>The status <c>/health/liveliness</c> (and <c>/v1/models</c>, the fallback) answer; 200 is healthy.</summary>
    public void SetHealth(int status) => Volatile.Write(ref _healthStatus, status);

    /// <summary>Makes <c>/health/liveliness</c> answer 404, as a server without that route does.</summary>
    public void RemoveLivelinessRoute() => _livelinessMissing = true;

    /// <summary>Waits until a request was aborted by its caller; false on timeout.</summary>
    public async Task<bool> WaitForAbortAsync(TimeSpan timeout)
    {
        var aborted = _aborted.Task;
        return await Task.WhenAny(aborted, Task.Delay(timeout)) == aborted;
    }

    /// <summary>Waits until the server has received <paramref name="count"/> requests on <paramref name="path"/>; false on timeout.</summary>
    public async Task<bool> WaitForRequestsAsync(string path, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Count(path) < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }

    /// <summary>Stops listening: from now on connections are refused.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _app.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private static string DefaultErrorBody(int status) =>
        new JsonObject
        {
            ["error"] = new JsonObject
            {
                ["message"] = $"fake upstream answered {status}",
                ["type"] = "server_error",
                ["param"] = null,
                ["code"] = null,
            },
        }.ToJsonString();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedRequest(request.Method, request.Path.Value ?? string.Empty, headers, body));

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            switch (request.Path.Value)
            {
                case LivelinessPath when HttpMethods.IsGet(request.Method):
                    await HealthAsync(context, _livelinessMissing ? 404 : Volatile.Read(ref _healthStatus), "I'm alive!");
                    break;
                case ModelsPath when HttpMethods.IsGet(request.Method):
                    var health = Volatile.Read(ref _healthStatus);
                    await HealthAsync(context, health, health == 200 ? ModelList().ToJsonString() : DefaultErrorBody(health));
                    break;
                case ChatPath when HttpMethods.IsPost(request.Method):
                    await InferenceAsync(context, body, embeddings: false, linked.Token);
                    break;
                case EmbeddingsPath when HttpMethods.IsPost(request.Method):
                    await InferenceAsync(context, body, embeddings: true, linked.Token);
                    break;
                default:
                    context.Response.StatusCode = 404;
                    break;
            }
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            RecordAbort();
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            context.Abort();
        }
    }

    private static async Task HealthAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = text.StartsWith('{') ? "application/json" : "text/plain";
        await context.Response.WriteAsync(status == 200 || text.StartsWith('{') ? text : "unhealthy");
    }

    private async Task InferenceAsync(HttpContext context, string body, bool embeddings, CancellationToken cancellationToken)
    {
        var behavior = _behavior;
        if (TakeFailure() is { } failStatus)
        {
            behavior = new Behavior(Mode.Status, 3, TimeSpan.Zero, failStatus, DefaultErrorBody(failStatus), null, 0);
        }

        JsonNode? json;
        try
        {
            json = JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            json = null;
        }

        var model = json?["model"] is JsonValue m && m.TryGetValue<string>(out var name) ? name : "unknown";
        var stream = json?["stream"] is JsonValue s && s.TryGetValue<bool>(out var isStream) && isStream;
        var includeUsage = json?["stream_options"]?["include_usage"] is JsonValue u && u.TryGetValue<bool>(out var include) && include;

        switch (behavior.Mode)
        {
            case Mode.Status:
                context.Response.StatusCode = behavior.Status;
                if (behavior.RetryAfter is not null)
                {
                    context.Response.Headers.RetryAfter = behavior.RetryAfter;
                }

                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(behavior.Body ?? string.Empty, cancellationToken);
                return;
            case Mode.Hang:
                await Task.Delay(Timeout.Infinite, cancellationToken);
                return;
            case Mode.Drop when !stream || embeddings:
                context.Abort();
                return;
        }

        if (embeddings)
        {
            await WriteJsonAsync(context, Embeddings(json, model), cancellationToken);
        }
        else if (stream)
        {
            await StreamAsync(context, model, includeUsage, behavior, cancellationToken);
        }
        else
        {
            await WriteJsonAsync(context, Completion(model), cancellationToken);
        }
    }

    private async Task StreamAsync(HttpContext context, string model, bool includeUsage, Behavior behavior, CancellationToken cancellationToken)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await response.StartAsync(cancellationToken);
        var id = $"chatcmpl-{Name}-{Guid.NewGuid():N}";
        for (var i = 0; i < behavior.Chunks; i++)
        {
            if (behavior.Mode == Mode.Drop && i == behavior.DropAfterChunks)
            {
                // Let the chunks already written reach the gateway first: a reset connection loses
                // what the peer has not read yet.
                await Task.Delay(300, cancellationToken);
                context.Abort();
                return;
            }

            if (i > 0 && behavior.ChunkDelay > TimeSpan.Zero)
            {
                await Task.Delay(behavior.ChunkDelay, cancellationToken);
            }

            var last = i == behavior.Chunks - 1;
            var chunk = Chunk(id, model, new JsonObject
            {
                ["index"] = 0,
                ["delta"] = i == 0
                    ? new JsonObject { ["role"] = "assistant", ["content"] = ChunkText(i) }
                    : new JsonObject { ["content"] = ChunkText(i) },
                ["finish_reason"] = last ? "stop" : null,
            });
            await WriteEventAsync(response, chunk.ToJsonString(), cancellationToken);
            Interlocked.Increment(ref _chunksSent);
        }

        if (includeUsage)
        {
            var usage = Chunk(id, model, null);
            usage["usage"] = Usage(behavior.Chunks);
            await WriteEventAsync(response, usage.ToJsonString(), cancellationToken);
        }

        await WriteEventAsync(response, "[DONE]", cancellationToken);
        Interlocked.Increment(ref _streamsCompleted);
    }

    /// <summary>The text of content chunk <paramref name="index"/>; a whole stream reads <c>[name:0][name:1]…</c>.</summary>
    public string ChunkText(int index) => $"[{Name}:{index}]";

    /// <summary>The whole content of a stream of <paramref name="chunks"/> chunks.</summary>
    public string StreamText(int chunks) => string.Concat(Enumerable.Range(0, chunks).Select(ChunkText));

    /// <summary>The content of a non-streamed answer.</summary>
    public string AnswerText => $"Hello from {Name}";

    private static async Task WriteEventAsync(HttpResponse response, string data, CancellationToken cancellationToken)
    {
        await response.WriteAsync($"data: {data}\n\n", cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    private static async Task WriteJsonAsync(HttpContext context, JsonObject json, CancellationToken cancellationToken)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json.ToJsonString(), cancellationToken);
    }

    private JsonObject Completion(string model) => new()
    {
        ["id"] = $"chatcmpl-{Name}-{Guid.NewGuid():N}",
        ["object"] = "chat.completion",
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = AnswerText },
            ["finish_reason"] = "stop",
        }),
        ["usage"] = Usage(7),
    };

    private static JsonObject Chunk(string id, string model, JsonObject? choice) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model,
        ["choices"] = choice is null ? new JsonArray() : new JsonArray(choice),
    };

    private static JsonObject Usage(int completionTokens) => new()
    {
        ["prompt_tokens"] = 5,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = 5 + completionTokens,
    };

    private static JsonObject Embeddings(JsonNode? request, string model)
    {
        var inputs = request?["input"] is JsonArray array ? array.Count : 1;
        var data = new JsonArray();
        for (var i = 0; i < inputs; i++)
        {
            data.Add(new JsonObject
            {
                ["object"] = "embedding",
                ["index"] = i,
                ["embedding"] = new JsonArray(0.1, 0.2, 0.3),
            });
        }

        return new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = model,
            ["usage"] = new JsonObject { ["prompt_tokens"] = 3, ["total_tokens"] = 3 },
        };
    }

    private JsonObject ModelList() => new()
    {
        ["object"] = "list",
        ["data"] = new JsonArray([.. Models.Select(m => (JsonNode)new JsonObject
        {
            ["id"] = m,
            ["object"] = "model",
            ["created"] = 1_700_000_000,
            ["owned_by"] = Name,
        })]),
    };

    private int? TakeFailure()
    {
        while (true)
        {
            var left = Volatile.Read(ref _failNext);
            if (left <= 0)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _failNext, left - 1, left) == left)
            {
                return Volatile.Read(ref _failNextStatus);
            }
        }
    }

    private void RecordAbort()
    {
        Interlocked.Increment(ref _abortedCount);
        _aborted.TrySetResult();
    }

    private enum Mode
    {
        Normal,
        Status,
        Hang,
        Drop,
    }

    private sealed record Behavior(Mode Mode, int Chunks, TimeSpan ChunkDelay, int Status, string? Body, string? RetryAfter, int DropAfterChunks)
    {
        public static Behavior Normal(int chunks, TimeSpan delay) => new(Mode.Normal, chunks, delay, 200, null, null, 0);
    }
}
