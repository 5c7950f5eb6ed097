using System.Globalization;

/// <summary>
/// One request at a time on one connection, to several targets in turn (a hundred each), for the
/// one-connection p50 in microseconds: hey reports whole tenths of a millisecond, coarser than the
/// 50 µs budget it was meant to judge.
/// </summary>
internal static class Serial
{
    private const string Usage = "serial <requests-per-target> (<name> <url> <key> <model>)...";
    private const int Turn = 100;

    public static async Task<int> RunAsync(string[] args)
    {
        if (Target.Parse(args, 1) is not { } targets)
        {
            Console.Error.WriteLine("usage: " + Usage);
            return 2;
        }

        using (targets)
        {
            var count = int.Parse(args[0], CultureInfo.InvariantCulture);
            var latencies = targets.Select(_ => new List<double>(count)).ToList();
            var errors = new int[targets.Count];
            // A turn each first, unmeasured: the connection open, this process's code compiled.
            foreach (var target in targets)
            {
                for (var i = 0; i < Turn; i++)
                {
                    await target.SendAsync();
                }
            }

            for (var done = 0; done < count; done += Turn)
            {
                for (var t = 0; t < targets.Count; t++)
                {
                    for (var i = 0; i < Math.Min(Turn, count - done); i++)
                    {
                        var (milliseconds, ok) = await targets[t].SendAsync();
                        latencies[t].Add(milliseconds);
                        errors[t] += ok ? 0 : 1;
                    }
                }
            }

            for (var t = 0; t < targets.Count; t++)
            {
                Console.WriteLine(FormattableString.Invariant(
                    $"target={targets[t].Name} requests={latencies[t].Count} errors={errors[t]} p50_ms={Target.Percentile(latencies[t], 50):F3} p99_ms={Target.Percentile(latencies[t], 99):F3}"));
            }

            return 0;
        }
    }
}
