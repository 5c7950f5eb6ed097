using System.Text;
using BenchmarkDotNet.Attributes;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using BluesMinds.Gateway.Proxy.Forwarding;
using BluesMinds.Gateway.Proxy.Limits;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BluesMinds.Bench.Micro;

/// <summary>The per-request pieces of the hot path, each on its own, with allocations per operation.</summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private static readonly byte[] ChatBody = Encoding.UTF8.GetBytes(
        """{"model":"gpt-4o-mini","stream":true,"max_tokens":256,"temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one sentence about the sea, and keep it short please."}]}""");

    private static readonly byte[] Stream = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(
        """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hello "},"finish_reason":null}]}""" + "\n\n", 8))
        + """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":8,"total_tokens":20}}""" + "\n\ndata: [DONE]\n\n");

    private ServiceProvider _services = null!;
    private ApiKeyLookup _lookup = null!;
    private ApiKeySecrets _secrets = null!;
    private string _key = null!;
    private InProcessRateLimiter _limiter = null!;
    private LimitPolicy _policy = null!;
    private TokenCounter _tokens = null!;
    private UsageQueue _queue = null!;
    private string _directory = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _directory = Directory.CreateTempSubdirectory("bm-bench-").FullName;
        var services = new ServiceCollection();
        services.AddDbContext<GatewayDbContext, SqliteGatewayDbContext>(o => DatabaseSetup.UseSqlite(o, $"Data Source={Path.Combine(_directory, "bench.db")}"));
        services.AddSingleton(Options.Create(new SecurityOptions { ApiKeySecret = "bench-api-key-secret-0123456789abcdef" }));
        services.AddSingleton(Options.Create(new ApiKeyOptions()));
        services.AddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddSingleton<ApiKeySecrets>();
        services.AddSingleton<ApiKeyLastUsed>();
        services.AddSingleton<ApiKeyLookup>();
        _services = services.BuildServiceProvider();

        await using (var scope = _services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<GatewayDbContext>();
            await db.Database.MigrateAsync();
            var user = new User { Id = Guid.CreateVersion7(), Email = "bench@example.com", PasswordHash = "x", CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow };
            _key = ApiKeySecrets.Generate();
            var secrets = scope.ServiceProvider.GetRequiredService<ApiKeySecrets>();
            db.Users.Add(user);
            db.ApiKeys.Add(new ApiKey
            {
                Id = Guid.CreateVersion7(),
                UserId = user.Id,
                Name = "bench",
                KeyHash = secrets.Hash(_key),
                Prefix = ApiKeySecrets.DisplayPrefix(_key),
                LastFour = ApiKeySecrets.LastFour(_key),
                CreatedAt = DateTime.UtcNow,
                UpdatedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        _secrets = _services.GetRequiredService<ApiKeySecrets>();
        _lookup = _services.GetRequiredService<ApiKeyLookup>();
        var warm = await _lookup.ResolveAsync(_key, CancellationToken.None);
        if (!warm.IsActive)
        {
            throw new InvalidOperationException("the benchmark key did not resolve");
        }

        _limiter = new InProcessRateLimiter(TimeProvider.System);
        var userId = Guid.CreateVersion7();
        _policy = new LimitPolicy(
            new LimitScope("account", LimitScope.AccountKey(userId), new LimitSet(1_000_000_000, 2_000_000_000, 1_000_000, 1_000_000_000_000_000), 0),
            null,
            QuotaPeriod.CalendarMonth(DateTimeOffset.UtcNow));
        _tokens = new TokenCounter();
        _tokens.CountChatPrompt(ChatBody);
        _queue = new UsageQueue();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Description = "key: HMAC-SHA256 of the presented key")]
    public byte[] KeyHash() => _secrets.Hash(_key);

    [Benchmark(Description = "key: lookup (hash + cache hit)")]
    public async ValueTask<bool> KeyLookup() => (await _lookup.ResolveAsync(_key, CancellationToken.None)).IsActive;

    [Benchmark(Description = "peek: model, stream, max_tokens, n")]
    public int? Peek() => RequestPeek.Read(ChatBody, ProxyOperation.ChatCompletions).MaxTokens;

    [Benchmark(Description = "reserve: count the prompt (o200k)")]
    public int CountPrompt() => _tokens.CountChatPrompt(ChatBody);

    [Benchmark(Description = "usage: SSE usage extraction (8 chunks + usage)")]
    public int SseUsage()
    {
        var reader = new UsageReader(streaming: true);
        reader.Observe(Stream);
        reader.Complete();
        return reader.Usage!.Value.TotalTokens;
    }

    [Benchmark(Description = "limits: in-process acquire + settle")]
    public async ValueTask<bool> LimiterAcquireSettle()
    {
        var decision = await _limiter.AcquireAsync(_policy, 300, "req_bench");
        await decision.Lease!.IssuedBy.SettleAsync(decision.Lease, 20);
        return decision.Admitted;
    }

    [Benchmark(Description = "usage: enqueue + dequeue one record")]
    public async ValueTask<bool> UsageEnqueue()
    {
        await _queue.EnqueueAsync(new UsageRecord { RequestId = "req_bench", Endpoint = "chat.completions", CreatedAt = DateTime.UtcNow });
        return _queue.Reader.TryRead(out _);
    }
}
