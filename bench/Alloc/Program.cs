using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Allocation sampling of a running .NET process: the runtime reports one AllocationTick per ~100 KB
// allocated, with the type and the stack of the allocation that crossed the mark, so bytes per type
// (or per stack of one type) come out in proportion to what was allocated.
//   BluesMinds.Bench.Alloc <pid> <seconds> [requests] [type]
// With `requests` the figures are divided by it (bytes per request of a load run meanwhile); with
// `type` the report lists that type's allocating stacks instead of the types.
if (args.Length < 2 || !int.TryParse(args[0], CultureInfo.InvariantCulture, out var pid) || !int.TryParse(args[1], CultureInfo.InvariantCulture, out var seconds))
{
    Console.Error.WriteLine("usage: BluesMinds.Bench.Alloc <pid> <seconds> [requests] [type]");
    return 2;
}

var requests = args.Length > 2 && long.TryParse(args[2], CultureInfo.InvariantCulture, out var r) && r > 0 ? r : 1;
var type = args.Length > 3 ? args[3] : null;
var trace = Path.Combine(Path.GetTempPath(), $"bluesminds-alloc-{pid}.nettrace");
var keywords = (long)(ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.Jit | ClrTraceEventParser.Keywords.Loader);
using (var session = new DiagnosticsClient(pid).StartEventPipeSession([new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, keywords)], requestRundown: true))
{
    await using var file = File.Create(trace);
    var copy = session.EventStream.CopyToAsync(file);
    await Task.Delay(TimeSpan.FromSeconds(seconds));
    session.Stop();
    await copy;
}

var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
long total = 0;
using (var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(trace)))
{
    // TraceEvents enumerates only through its generic enumerator (OfType would use the other one).
    foreach (var traceEvent in log.Events)
    {
        if (traceEvent is not GCAllocationTickTraceData sample)
        {
            continue;
        }

        var name = sample.TypeName ?? "?";
        total += sample.AllocationAmount64;
        if (type is not null && name != type)
        {
            continue;
        }

        var key = name;
        if (type is not null)
        {
            var frames = new List<string>();
            for (var frame = sample.CallStack(); frame is not null && frames.Count < 12; frame = frame.Caller)
            {
                if (frame.CodeAddress.FullMethodName is { Length: > 0 } method)
                {
                    frames.Add(method);
                }
            }

            key = string.Join("\n      <- ", frames);
        }

        bytes[key] = bytes.GetValueOrDefault(key) + sample.AllocationAmount64;
    }
}

File.Delete(trace);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocated {total / (double)requests:F0} bytes{(requests > 1 ? " per request" : string.Empty)} (sampled over {seconds} s)"));
foreach (var (key, value) in bytes.OrderByDescending(e => e.Value).Take(type is null ? 40 : 12))
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{value / (double)requests,10:F0}  {key}"));
}

return 0;
