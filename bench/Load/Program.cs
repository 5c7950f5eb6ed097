using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

// Measurements the HTTP load tools cannot make:
//   rate <per-second> <seconds> (<name> <url> <key> <model>)...
//                                                      non-streaming requests at a fixed rate to each target in
//                                                      turn, a second each (PacedRate); p50/p99 per target, ms
//   serial <count> (<name> <url> <key> <model>)...     one request at a time on one connection, to each target
//                                                      in turn, a hundred each (Serial); p50/p99 per target, ms
//   stream <url> <key> <model> <concurrency> <count>   time to first byte and total time per stream (p50/p99, ms)
//   soak <url> <key> <model> <streams> <pid>           holds <streams> concurrent streams to the end, samples the RSS of <pid>
// rate and stream first run unmeasured (a second at the rate each; two streams per concurrent stream),
// so that the connections are open and this process's own code is compiled before anything is timed.
// <url> is the base ending in /v1; <key> "-" sends no Authorization. Prints one line of key=value
// pairs for bench/run.sh to parse.
if (args is ["rate", .. var rateArgs])
{
    return await PacedRate.RunAsync(rateArgs);
}

if (args is ["serial", .. var serialArgs])
{
    return await Serial.RunAsync(serialArgs);
}

if (args.Length < 6)
{
    Console.Error.WriteLine("usage: stream <url> <key> <model> <concurrency> <count> | soak <url> <key> <model> <streams> <pid>");
    return 2;
}

var url = new Uri(args[1].TrimEnd('/') + "/chat/completions");
var key = args[2];
var body = $$"""{"model":"{{args[3]}}","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}""";
using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    Timeout = TimeSpan.FromMinutes(5),
};
if (key != "-")
{
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
}

return args[0] switch
{
    "stream" => await StreamAsync(int.Parse(args[4], CultureInfo.InvariantCulture), int.Parse(args[5], CultureInfo.InvariantCulture)),
    "soak" => await SoakAsync(int.Parse(args[4], CultureInfo.InvariantCulture), int.Parse(args[5], CultureInfo.InvariantCulture)),
    _ => 2,
};

async Task<(double Ttfb, double Total, bool Ok)> OneStreamAsync(CancellationToken cancellationToken)
{
    var started = Stopwatch.GetTimestamp();
    using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
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

async Task<int> StreamAsync(int concurrency, int count)
{
    await StreamRunAsync(concurrency, 2 * concurrency);
    var (ttfb, total, errors) = await StreamRunAsync(concurrency, count);
    Console.WriteLine(FormattableString.Invariant(
        $"streams={ttfb.Count} errors={errors} ttfb_p50_ms={Percentile(ttfb, 50):F3} ttfb_p99_ms={Percentile(ttfb, 99):F3} total_p50_ms={Percentile(total, 50):F3} total_p99_ms={Percentile(total, 99):F3}"));
    return 0;
}

async Task<(List<double> Ttfb, List<double> Total, int Errors)> StreamRunAsync(int concurrency, int count)
{
    var ttfb = new List<double>(count);
    var total = new List<double>(count);
    var errors = 0;
    var next = 0;
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (Interlocked.Increment(ref next) <= count)
        {
            try
            {
                var (t, all, ok) = await OneStreamAsync(CancellationToken.None);
                lock (ttfb)
                {
                    ttfb.Add(t);
                    total.Add(all);
                    errors += ok ? 0 : 1;
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref errors);
            }
        }
    }));
    return (ttfb, total, errors);
}

async Task<int> SoakAsync(int streams, int pid)
{
    using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
    var errors = 0;
    var completed = 0;
    var peakRss = 0L;
    var sampling = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            peakRss = Math.Max(peakRss, RssKb(pid));
            await Task.Delay(250);
        }
    });
    var opened = Stopwatch.StartNew();
    var tasks = Enumerable.Range(0, streams).Select(async _ =>
    {
        try
        {
            var (_, _, ok) = await OneStreamAsync(stop.Token);
            if (ok)
            {
                Interlocked.Increment(ref completed);
            }
            else
            {
                Interlocked.Increment(ref errors);
            }
        }
        catch (Exception)
        {
            Interlocked.Increment(ref errors);
        }
    }).ToList();
    await Task.WhenAll(tasks);
    var elapsed = opened.Elapsed.TotalSeconds;
    await stop.CancelAsync();
    await sampling;
    Console.WriteLine(FormattableString.Invariant($"streams={streams} completed={completed} errors={errors} seconds={elapsed:F1} peak_rss_mb={peakRss / 1024.0:F1}"));
    return 0;
}

static long RssKb(int pid)
{
    try
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }
    }
    catch (IOException)
    {
    }

    return 0;
}

static double Percentile(List<double> values, int percentile)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }

    var sorted = values.Order().ToList();
    var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1;
    return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
}
