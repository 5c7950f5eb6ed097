using System.Diagnostics;
using System.Globalization;

// Measurements the HTTP load tools cannot make. A target is four arguments (see Target).
//   rate <per-second> <seconds> <target>...           non-streaming requests at a fixed rate to each target in
//                                                      turn, a second each (PacedRate); p50/p99 per target, ms
//   serial <count> <target>...                         one request at a time on one connection, to each target
//                                                      in turn, a hundred each (Serial); p50/p99 per target, ms
//   stream <concurrency> <count> <target>...           streams at a fixed concurrency, to each target in turn,
//                                                      64 each (Streams); time to first byte and total, ms
//   soak <url> <key> <model> <streams> <pid>           holds <streams> concurrent streams to the end, samples the RSS of <pid>
// Each measured mode first runs unmeasured, so that the connections are open and this process's
// own code is compiled before anything is timed. Prints key=value pairs (a line per target) for
// bench/run.sh to parse.
switch (args)
{
    case ["rate", .. var rest]:
        return await PacedRate.RunAsync(rest);
    case ["serial", .. var rest]:
        return await Serial.RunAsync(rest);
    case ["stream", .. var rest]:
        return await Streams.RunAsync(rest);
    case ["soak", var url, var key, var model, var streams, var pid]:
        {
            using var target = new Target("soak", url, key, model);
            return await SoakAsync(target, int.Parse(streams, CultureInfo.InvariantCulture), int.Parse(pid, CultureInfo.InvariantCulture));
        }

    default:
        Console.Error.WriteLine("usage: rate … | serial … | stream … | soak <url> <key> <model> <streams> <pid> (see bench/Load/Program.cs)");
        return 2;
}

static async Task<int> SoakAsync(Target target, int streams, int pid)
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
            var (_, _, ok) = await target.StreamAsync(stop.Token);
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
