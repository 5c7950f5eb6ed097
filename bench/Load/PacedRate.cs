using System.Globalization;

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
        if (Target.Parse(args, 2) is not { } targets)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        using (targets)
        {
            var perSecond = int.Parse(args[0], CultureInfo.InvariantCulture);
            var seconds = int.Parse(args[1], CultureInfo.InvariantCulture);
            // A second to each first, unmeasured: connections open, this process's code compiled.
            await RunAsync(targets, perSecond, 1);
            var run = await RunAsync(targets, perSecond, seconds);
            for (var t = 0; t < targets.Count; t++)
            {
                var mine = Enumerable.Range(0, run.Latencies.Length).Where(i => run.TargetOf[i] == t).ToList();
                var ms = mine.Select(i => run.Latencies[i]).ToList();
                Console.WriteLine(FormattableString.Invariant(
                    $"target={targets[t].Name} requests={ms.Count} errors={mine.Count(i => !run.Ok[i])} late_sends={mine.Count(i => run.Late[i])} p50_ms={Target.Percentile(ms, 50):F3} p99_ms={Target.Percentile(ms, 99):F3} p999_ms={Target.Percentile(ms, 99.9):F3} max_ms={ms.Max():F3}"));
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
    }

    /// <summary>
    /// Request i is due at start + i / perSecond s and goes to the target whose turn it is (a second
    /// each); a thread of its own sleeps to each absolute due time, so one late wake-up does not shift
    /// the rest. A send more than 1 ms behind its time counts as late (the load tool's own check).
    /// </summary>
    private static async Task<Run> RunAsync(TargetList targets, int perSecond, int seconds)
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

    private sealed class Run(int count)
    {
        public double[] Latencies { get; } = new double[count];
        public bool[] Ok { get; } = new bool[count];
        public bool[] Late { get; } = new bool[count];
        public long[] Due { get; } = new long[count];
        public int[] TargetOf { get; } = new int[count];
    }
}
