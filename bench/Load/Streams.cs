using System.Globalization;

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
        if (Target.Parse(args, 2) is not { } targets)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        using (targets)
        {
            var concurrency = int.Parse(args[0], CultureInfo.InvariantCulture);
            var count = int.Parse(args[1], CultureInfo.InvariantCulture);
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
                    $"target={targets[t].Name} streams={ttfb.Count} errors={errors} ttfb_p50_ms={Target.Percentile(ttfb, 50):F3} ttfb_p99_ms={Target.Percentile(ttfb, 99):F3} total_p50_ms={Target.Percentile(total, 50):F3} total_p99_ms={Target.Percentile(total, 99):F3}"));
            }

            return 0;
        }
    }

    private static async Task TurnAsync(Target target, int concurrency, int count, Timings timings)
    {
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                try
                {
                    var (ttfb, total, ok) = await target.StreamAsync(CancellationToken.None);
                    timings.Add(ttfb, total, ok);
                }
                catch (Exception)
                {
                    // Any failure of one stream is an error of the target, never the end of the run.
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
