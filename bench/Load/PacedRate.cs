using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

/// <summary>
/// Non-streaming requests at a fixed rate, evenly spaced and sent whether or not earlier ones have
/// answered, to several targets in turn: one second to each, round after round, so that whatever
/// else the machine does during the run falls on every target alike. Each request is timed from the
/// moment it is sent. hey -q, used before, starts its workers' tickers together, so its requests
/// leave in bursts of -c at once, and its first burst's times include the TCP connects.
/// </summary>
internal static class PacedRate
{
    private const string Usage = "rate <per-second> <seconds-per-target> (<name> <url> <key> <model>)...";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 6 || (args.Length - 2) % 4 != 0)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        var perSecond = int.Parse(args[0], CultureInfo.InvariantCulture);
        var seconds = int.Parse(args[1], CultureInfo.InvariantCulture);
        var targets = new List<Target>();
        for (var i = 2; i < args.Length; i += 4)
        {
            targets.Add(new Target(args[i], args[i + 1], args[i + 2], args[i + 3]));
        }

        try
        {
            // A second to each first, unmeasured: connections open, this process's code compiled.
            await RunAsync(targets, perSecond, 1);
            var run = await RunAsync(targets, perSecond, seconds);
            for (var t = 0; t < targets.Count; t++)
            {
                var mine = Enumerable.Range(0, run.Latencies.Length).Where(i => run.TargetOf[i] == t).ToList();
                var ms = mine.Select(i => run.Latencies[i]).ToList();
                Console.WriteLine(FormattableString.Invariant(
                    $"target={targets[t].Name} requests={ms.Count} errors={mine.Count(i => !run.Ok[i])} late_sends={mine.Count(i => run.Late[i])} p50_ms={Percentile(ms, 50):F3} p99_ms={Percentile(ms, 99):F3} p999_ms={Percentile(ms, 99.9):F3} max_ms={ms.Max():F3}"));
            }

            if (Environment.GetEnvironmentVariable("BENCH_LATENCY_DUMP") is { Length: > 0 } dump)
            {
                // One line per request, in the order sent: target, when it was due (CLOCK_MONOTONIC, s)
                // and its latency (ms), for finding when the slow ones happened and what else ran then
                // (perf record -k CLOCK_MONOTONIC).
                await File.WriteAllLinesAsync(dump, run.Latencies.Select((m, i) => FormattableString.Invariant(
                    $"{targets[run.TargetOf[i]].Name} {run.Due[i] / 1e9:F6} {m:F3}")));
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

    /// <summary>
    /// Request i is due at start + i / perSecond s and goes to the target whose turn it is (a second
    /// each); a thread of its own sleeps to each absolute due time, so one late wake-up does not shift
    /// the rest. A send more than 1 ms behind its time counts as late (the load tool's own check).
    /// </summary>
    private static async Task<Run> RunAsync(List<Target> targets, int perSecond, int seconds)
    {
        var count = targets.Count * perSecond * seconds;
        var run = new Run(count);
        var tasks = new Task[count];
        var interval = 1_000_000_000L / perSecond;
        var pacer = new Thread(() =>
        {
            var start = Clock.NowNanoseconds();
            for (var i = 0; i < count; i++)
            {
                var due = start + (i * interval);
                Clock.SleepUntil(due);
                run.Late[i] = Clock.NowNanoseconds() - due > 1_000_000;
                run.Due[i] = due;
                var index = i;
                var target = run.TargetOf[i] = i / perSecond % targets.Count;
                tasks[i] = Task.Run(async () => (run.Latencies[index], run.Ok[index]) = await targets[target].SendAsync());
            }
        })
        { IsBackground = true, Priority = ThreadPriority.AboveNormal };
        pacer.Start();
        await Task.Run(pacer.Join);
        await Task.WhenAll(tasks);
        return run;
    }

    public static double Percentile(List<double> values, double percentile)
    {
        var sorted = values.Order().ToList();
        var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
    }

    private sealed class Run(int count)
    {
        public double[] Latencies { get; } = new double[count];
        public bool[] Ok { get; } = new bool[count];
        public bool[] Late { get; } = new bool[count];
        public long[] Due { get; } = new long[count];
        public int[] TargetOf { get; } = new int[count];
    }

    /// <summary>One target: its own connection pool, its key, the chat body for its model.</summary>
    public sealed class Target : IDisposable
    {
        private readonly HttpClient _client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) }) { Timeout = TimeSpan.FromMinutes(1) };
        private readonly Uri _url;
        private readonly byte[] _body;

        public Target(string name, string baseUrl, string key, string model)
        {
            Name = name;
            _url = new Uri(baseUrl.TrimEnd('/') + "/chat/completions");
            _body = Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","max_tokens":64,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}""");
            if (key != "-")
            {
                _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
        }

        public string Name { get; }

        public async Task<(double Milliseconds, bool Ok)> SendAsync()
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var content = new ByteArrayContent(_body);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await _client.PostAsync(_url, content);
                await response.Content.LoadIntoBufferAsync();
                return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, response.IsSuccessStatusCode);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, false);
            }
        }

        public void Dispose() => _client.Dispose();
    }
}
