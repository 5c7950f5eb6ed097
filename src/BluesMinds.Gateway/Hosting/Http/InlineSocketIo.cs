using System.Runtime.CompilerServices;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Inline socket I/O: the runtime's socket event threads run what follows a socket read themselves
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>), and Kestrel runs a request on the
/// thread that read it (<c>UnsafePreferInlineScheduling</c>). A proxied request then goes from the
/// client's packet to the upstream's, and the upstream's bytes back to the client, without waiting
/// for a pool thread to wake up at each step (docs/BENCHMARKS.md, thirty-fifth measurement).
/// <para>
/// The price: an event thread that blocks or computes for long holds up every socket it serves.
/// So whatever may do either leaves it first (<see cref="LeaveAsync"/>): every route but the
/// gateway's own, a database read on the gateway's routes (a cache that missed), a large body's
/// token count, and whatever follows an SMTP or health-check call. It is on by default with the
/// embedded database only: with PostgreSQL, code after every database read would run on an event
/// thread, password hashing included.
/// </para>
/// </summary>
internal static class InlineSocketIo
{
    public const string RuntimeVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Whether this process serves requests on the socket threads (set once, at start-up).</summary>
    public static bool Enabled { get; private set; }

    /// <summary>
    /// Decides the mode and applies it: before anything opens a socket, since the runtime reads its
    /// variable once, when its socket engine starts.
    /// </summary>
    public static void Configure(WebApplicationBuilder builder)
    {
        var setting = builder.Configuration.BindOrDefault<AppOptions>(AppOptions.Section)?.InlineSocketIo;
        var database = builder.Configuration.BindOrDefault<DatabaseOptions>(DatabaseOptions.Section) ?? new DatabaseOptions();
        database.TryGetProvider(out var provider);
        var runtime = Environment.GetEnvironmentVariable(RuntimeVariable);
        Enabled = Decide(setting, runtime, provider);
        if (Enabled && runtime is null)
        {
            Environment.SetEnvironmentVariable(RuntimeVariable, "1");
        }

        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = Enabled);
    }

    /// <summary>
    /// The operator's own runtime variable wins (it is process-wide and read before any of this);
    /// then the setting; then the default, on with the embedded database.
    /// </summary>
    public static bool Decide(bool? setting, string? runtimeVariable, DatabaseProvider provider) =>
        runtimeVariable is not null ? runtimeVariable == "1" : setting ?? provider == DatabaseProvider.Sqlite;

    /// <summary>
    /// Continues on a pool thread: at once when already on one, otherwise (a socket event thread,
    /// or any thread of its own) after a hand-off.
    /// </summary>
    public static PoolThreadAwaitable LeaveAsync() => default;

    internal readonly struct PoolThreadAwaitable : ICriticalNotifyCompletion
    {
        public bool IsCompleted => Thread.CurrentThread.IsThreadPoolThread;

        public PoolThreadAwaitable GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) =>
            ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) =>
            ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
    }
}
