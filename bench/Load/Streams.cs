using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

/// <summary>
/// Streams at a fixed concurrency to several targets in turn (64 streams each, until each has had
/// its count), for time to first byte and total time per stream: one target after the other, the
/// machine's slow seconds fell on whichever target ran then.
/// </summary>
internal static class Streams
{
    private const string Usage = "stream <concurrency> <streams-per-target> (<name> <url> <key> <model>)...";
    private const int Turn = 64;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 6 || (args.Length - 2) % 4 != 0)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        var concurrency = int.Parse(args[0], CultureInfo.InvariantCulture);
        var count = int.Parse(args[1], CultureInfo.InvariantCulture);
        var targets = new List<StreamTarget>();
        for (var i = 2; i < args.Length; i += 4)
        {
            targets.Add(new StreamTarget(args[i], args[i + 1], args[i + 2], args[i + 3]));
        }

        try
        {
            // Two streams per concurrent stream to each first, unmeasured: connections open, code compiled.
            foreach (var target in targets)
            {
                await TurnAsync(target, concurrency, 2 * concurrency, new Timings());
            }

            var timings = targets.Select(_ => new Timings()).ToList();
            for (var done = 0; done < count; done += Turn)
            {
                for (var t = 0; t < targets.Count; t++)
                {
                    await TurnAsync(targets[t], concurrency, Math.Min(Turn, count - done), timings[t]);
                }
            }

            for (var t = 0; t < targets.Count; t++)
            {
                var (ttfb, total, errors) = (timings[t].Ttfb, timings[t].Total, timings[t].Errors);
                Console.WriteLine(FormattableString.Invariant(
                    $"target={targets[t].Name} streams={ttfb.Count} errors={errors} ttfb_p50_ms={PacedRate.Percentile(ttfb, 50):F3} ttfb_p99_ms={PacedRate.Percentile(ttfb, 99):F3} total_p50_ms={PacedRate.Percentile(total, 50):F3} total_p99_ms={PacedRate.Percentile(total, 99):F3}"));
            }

            return 0;
        }
        finally
        {
            foreach (var target in targets)
            {
                target.Dispose();
            }
        }
    }

    private static async Task TurnAsync(StreamTarget target, int concurrency, int count, Timings timings)
    {
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                try
                {
                    var (ttfb, total, ok) = await target.OneStreamAsync(CancellationToken.None);
                    timings.Add(ttfb, total, ok);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    timings.Add(double.NaN, double.NaN, ok: false);
                }
            }
        }));
    }

    private sealed class Timings
    {
        public List<double> Ttfb { get; } = [];
        public List<double> Total { get; } = [];
        public int Errors { get; private set; }

        public void Add(double ttfb, double total, bool ok)
        {
            lock (Ttfb)
            {
                if (ok)
                {
                    Ttfb.Add(ttfb);
                    Total.Add(total);
                }
                else
                {
                    Errors++;
                }
            }
        }
    }
}

/// <summary>One streaming target: its own connection pool, its key, the streaming chat body for its model.</summary>
internal sealed class StreamTarget : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        Timeout = TimeSpan.FromMinutes(5),
    };

    private readonly Uri _url;
    private readonly string _body;

    public StreamTarget(string name, string baseUrl, string key, string model)
    {
        Name = name;
        _url = new Uri(baseUrl.TrimEnd('/') + "/chat/completions");
        _body = $$"""{"model":"{{model}}","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}""";
        if (key != "-")
        {
            _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    public string Name { get; }

    /// <summary>One stream to its end: time to the first body byte, total time, and whether it ended with [DONE].</summary>
    public async Task<(double Ttfb, double Total, bool Ok)> OneStreamAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new StringContent(_body, Encoding.UTF8, "application/json") };
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

    public void Dispose() => _client.Dispose();
}
