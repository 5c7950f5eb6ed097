using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

/// <summary>
/// One target of a measurement, given as four arguments: a name for the output, the base URL ending
/// in /v1, a bm_ key or "-" for none, and the model. Its own connection pool, its key, its bodies.
/// </summary>
internal sealed class Target : IDisposable
{
    private const string Prompt = "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark.\"}]";

    private readonly HttpClient _client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = TimeSpan.FromMinutes(5),
    };

    private readonly Uri _url;
    private readonly byte[] _body;
    private readonly byte[] _streamBody;

    public Target(string name, string baseUrl, string key, string model)
    {
        Name = name;
        _url = new Uri(baseUrl.TrimEnd('/') + "/chat/completions");
        _body = Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","max_tokens":64,{{Prompt}}}""");
        _streamBody = Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","stream":true,"max_tokens":64,{{Prompt}}}""");
        if (key != "-")
        {
            _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    public string Name { get; }

    /// <summary>Targets from the arguments after the <paramref name="leading"/> ones; null when they do not come in fours.</summary>
    public static TargetList? Parse(string[] args, int leading)
    {
        if (args.Length <= leading || (args.Length - leading) % 4 != 0)
        {
            return null;
        }

        var targets = new TargetList();
        for (var i = leading; i < args.Length; i += 4)
        {
            targets.Add(new Target(args[i], args[i + 1], args[i + 2], args[i + 3]));
        }

        return targets;
    }

    /// <summary>One non-streaming chat request, read to its end: its time from the send, and whether it succeeded.</summary>
    public async Task<(double Milliseconds, bool Ok)> SendAsync()
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var content = Json(_body);
            using var response = await _client.PostAsync(_url, content);
            await response.Content.LoadIntoBufferAsync();
            return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, response.IsSuccessStatusCode);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, false);
        }
    }

    /// <summary>One stream to its end: time to the first body byte, total time, and whether it ended with [DONE].</summary>
    public async Task<(double Ttfb, double Total, bool Ok)> StreamAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = Json(_streamBody) };
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[16 * 1024];
        var first = -1.0;
        var sawDone = false;
        var tail = string.Empty;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (first < 0)
            {
                first = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            tail = (tail + Encoding.UTF8.GetString(buffer, 0, read))[^Math.Min(64, tail.Length + read)..];
            sawDone |= tail.Contains("[DONE]", StringComparison.Ordinal);
        }

        return (first, Stopwatch.GetElapsedTime(started).TotalMilliseconds, response.IsSuccessStatusCode && sawDone);
    }

    /// <summary>The nearest-rank percentile; NaN when nothing was measured (every request of a target failed).</summary>
    public static double Percentile(List<double> values, double percentile)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToList();
        var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
    }

    public void Dispose() => _client.Dispose();

    private static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}

/// <summary>The targets of one run, disposed together.</summary>
internal sealed class TargetList : List<Target>, IDisposable
{
    public void Dispose()
    {
        foreach (var target in this)
        {
            target.Dispose();
        }
    }
}
