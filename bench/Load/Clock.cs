using System.Runtime.InteropServices;

// CLOCK_MONOTONIC and an absolute-time sleep on it: Thread.Sleep rounds to whole milliseconds, too
// coarse for requests 2 ms apart, and spinning would take a core from the processes being measured.
internal static partial class Clock
{
    private const int Monotonic = 1;
    private const int AbsoluteTime = 1;

    public static long NowNanoseconds()
    {
        _ = clock_gettime(Monotonic, out var now);
        return now.Seconds * 1_000_000_000L + now.Nanoseconds;
    }

    public static void SleepUntil(long nanoseconds)
    {
        var due = new TimeSpec { Seconds = nanoseconds / 1_000_000_000L, Nanoseconds = nanoseconds % 1_000_000_000L };
        // EINTR: a signal woke the thread early; sleep again to the same absolute time.
        while (clock_nanosleep(Monotonic, AbsoluteTime, in due, IntPtr.Zero) == 4)
        {
        }
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_gettime(int clockId, out TimeSpec time);

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_nanosleep(int clockId, int flags, in TimeSpec request, IntPtr remaining);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
