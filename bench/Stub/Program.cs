using System.Text;

// A fast OpenAI-compatible upstream for the benchmark: answers from pre-built bytes so that it is
// never the bottleneck. STUB_CHUNKS content chunks per stream (default 8), STUB_CHUNK_DELAY_MS
// after each of them (default 0; the first chunk is sent at once, so time to first byte measures
// only the path), then a usage chunk and [DONE].
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

var chunks = int.TryParse(Environment.GetEnvironmentVariable("STUB_CHUNKS"), out var c) ? c : 8;
var delay = int.TryParse(Environment.GetEnvironmentVariable("STUB_CHUNK_DELAY_MS"), out var d) ? d : 0;

var completion = Encoding.UTF8.GetBytes(
    """{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}""");
var chunk = Encoding.UTF8.GetBytes(
    """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[{"index":0,"delta":{"content":"Hello "},"finish_reason":null}]}""" + "\n\n");
var usage = Encoding.UTF8.GetBytes(
    """data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"bench-model","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":""" + chunks + ""","total_tokens":""" + (12 + chunks) + "}}\n\ndata: [DONE]\n\n");
var embedding = Encoding.UTF8.GetBytes(
    """{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3,0.4]}],"model":"bench-embed","usage":{"prompt_tokens":4,"total_tokens":4}}""");
var models = Encoding.UTF8.GetBytes("""{"object":"list","data":[{"id":"bench-model","object":"model","created":0,"owned_by":"bench"}]}""");

var served = 0L;
var requestIds = new RequestIdLog();
app.MapPost("/v1/chat/completions", async (HttpContext http) =>
{
    Interlocked.Increment(ref served);
    if (http.Request.Headers["X-Request-Id"].ToString() is { Length: > 0 } requestId)
    {
        requestIds.Add(requestId);
    }

    var body = await ReadAsync(http.Request);
    if (body.AsSpan().IndexOf("\"stream\":true"u8) < 0 && body.AsSpan().IndexOf("\"stream\": true"u8) < 0)
    {
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = completion.Length;
        await http.Response.Body.WriteAsync(completion);
        return;
    }

    http.Response.ContentType = "text/event-stream";
    for (var i = 0; i < chunks; i++)
    {
        await http.Response.Body.WriteAsync(chunk, http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
        if (delay > 0)
        {
            await Task.Delay(delay, http.RequestAborted);
        }
    }

    await http.Response.Body.WriteAsync(usage, http.RequestAborted);
});
app.MapPost("/v1/embeddings", async (HttpContext http) =>
{
    await ReadAsync(http.Request);
    http.Response.ContentType = "application/json";
    http.Response.ContentLength = embedding.Length;
    await http.Response.Body.WriteAsync(embedding);
});
app.MapGet("/v1/models", (HttpContext http) =>
{
    http.Response.ContentType = "application/json";
    return http.Response.Body.WriteAsync(models).AsTask();
});
app.MapGet("/health/liveliness", () => "ok");
// How many completions were asked for: the benchmark compares it with the usage rows written.
app.MapGet("/stats", () => Interlocked.Read(ref served).ToString(System.Globalization.CultureInfo.InvariantCulture));
// The gateway's request ids it was sent, one per line: each must have exactly one usage row.
app.MapGet("/stats/request-ids", (HttpContext http) => requestIds.WriteToAsync(http.Response.Body));
app.Run();

static async Task<byte[]> ReadAsync(HttpRequest request)
{
    using var buffer = new MemoryStream();
    await request.Body.CopyToAsync(buffer);
    return buffer.ToArray();
}

/// <summary>
/// The request ids received, as UTF-8 lines in 1 MB blocks. A benchmark run sends millions: kept as
/// strings they grew the stub's heap to ~1 GB, and its collections paused every target's requests.
/// </summary>
internal sealed class RequestIdLog
{
    private const int BlockSize = 1 << 20;
    private readonly List<(byte[] Block, int Used)> _full = [];
    private readonly Lock _lock = new();
    private byte[] _block = new byte[BlockSize];
    private int _used;

    public void Add(string id)
    {
        var length = Encoding.UTF8.GetByteCount(id) + 1;
        lock (_lock)
        {
            if (_used + length > _block.Length)
            {
                _full.Add((_block, _used));
                _block = new byte[Math.Max(BlockSize, length)];
                _used = 0;
            }

            _used += Encoding.UTF8.GetBytes(id, _block.AsSpan(_used));
            _block[_used++] = (byte)'\n';
        }
    }

    public async Task WriteToAsync(Stream output)
    {
        List<(byte[] Block, int Used)> blocks;
        lock (_lock)
        {
            blocks = [.. _full, (_block[.._used], _used)];
        }

        foreach (var (block, used) in blocks)
        {
            await output.WriteAsync(block.AsMemory(0, used));
        }
    }
}
