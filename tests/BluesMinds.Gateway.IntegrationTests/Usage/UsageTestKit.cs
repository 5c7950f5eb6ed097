using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.GatewayServer;

namespace BluesMinds.Gateway.IntegrationTests.Usage;

/// <summary>
/// What the usage tests share: reading usage rows and rollups, the journal file, and ways to make
/// the usage writer's database refuse or stall its writes (a trigger, a held lock, a cut TCP proxy).
/// </summary>
internal static class UsageTestKit
{
    /// <summary>A prompt no usage row, rollup or API answer may ever contain.</summary>
    public const string SecretPrompt = "Tell nobody: the vault code is PURPLE-OKAPI-4471";

    /// <summary>The journal's default place: <c>&lt;data dir&gt;/usage-journal.jsonl</c>.</summary>
    public static string JournalPath(TestDatabase database) => Path.Combine(database.Directory, "data", "usage-journal.jsonl");

    /// <summary>Where the writer sets aside records the database refused while it answered.</summary>
    public static string RejectedPath(TestDatabase database) => JournalPath(database) + ".rejected.jsonl";

    public static long JournalLength(TestDatabase database) => File.Exists(JournalPath(database)) ? new FileInfo(JournalPath(database)).Length : 0;

    public static string RequestId(HttpResponseMessage response) => response.Headers.GetValues("X-Request-Id").Single();

    /// <summary>A chat body with a prompt of the test's choosing.</summary>
    public static string ChatBodyWith(string model, string prompt, bool stream = false) =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["messages"] = new[] { new { role = "user", content = prompt } },
            ["stream"] = stream,
        });

    /// <summary>Sends a non-streamed chat completion and returns (status, request id), reading the body to its end.</summary>
    public static async Task<(HttpStatusCode Status, string RequestId)> ChatAsync(HttpClient client, string model = Model, string prompt = SecretPrompt, bool stream = false)
    {
        using var response = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent(ChatBodyWith(model, prompt, stream)));
        await response.Content.ReadAsStringAsync();
        return (response.StatusCode, RequestId(response));
    }

    /// <summary>Sends a chat completion that must answer 200 and returns its request id.</summary>
    public static async Task<string> ChatOkAsync(HttpClient client, string model = Model, string prompt = SecretPrompt, bool stream = false)
    {
        using var response = await client.PostAsync(Url("/api/v1/chat/completions"), JsonContent(ChatBodyWith(model, prompt, stream)));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {text}");
        return RequestId(response);
    }

    public static async Task<List<UsageLog>> LogsAsync(TestDatabase database)
    {
        await using var db = database.OpenContext();
        return await db.UsageLogs.AsNoTracking().OrderBy(u => u.Id).ToListAsync();
    }

    public static async Task<List<UsageDaily>> DailyAsync(TestDatabase database)
    {
        await using var db = database.OpenContext();
        return await db.UsageDaily.AsNoTracking().ToListAsync();
    }

    /// <summary>Waits until every id has a usage row; fails with the missing ones on timeout.</summary>
    public static async Task<List<UsageLog>> WaitForRowsAsync(TestDatabase database, IReadOnlyCollection<string> requestIds, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var rows = await LogsAsync(database);
            var present = rows.Select(r => r.RequestId).ToHashSet(StringComparer.Ordinal);
            var missing = requestIds.Where(id => !present.Contains(id)).ToList();
            if (missing.Count == 0)
            {
                return rows;
            }

            if (DateTime.UtcNow > deadline)
            {
                var rejected = File.Exists(RejectedPath(database)) ? await File.ReadAllTextAsync(RejectedPath(database)) : string.Empty;
                var setAside = missing.Count(id => rejected.Contains($"\"request_id\":\"{id}\"", StringComparison.Ordinal));
                Assert.Fail($"{missing.Count} of {requestIds.Count} request(s) have no usage row after {(timeout ?? TimeSpan.FromSeconds(10)).TotalSeconds} s"
                    + $" ({setAside} of them set aside in {Path.GetFileName(RejectedPath(database))}): {string.Join(", ", missing)}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Waits for the rows with the test's clock moving by <paramref name="advance"/> at each look: the
    /// writer's gathering, its durable points and a retried insert all run on that clock.
    /// </summary>
    public static async Task<List<UsageLog>> WaitForRowsAsync(TestDatabase database, FakeTimeProvider time, TimeSpan advance, IReadOnlyCollection<string> requestIds)
    {
        var rows = new List<UsageLog>();
        Assert.True(await EventuallyAsync(async () =>
        {
            time.Advance(advance);
            rows = await LogsAsync(database);
            return requestIds.All(id => rows.Any(r => r.RequestId == id));
        }, TimeSpan.FromSeconds(15)), $"not every record was written: {string.Join(", ", requestIds)}");
        return rows;
    }

    /// <summary>A record as a finished request enqueues it, with a request id of its own that starts with <paramref name="name"/>.</summary>
    public static UsageRecord QueuedRecord(string name) => new()
    {
        RequestId = $"{name}-{Guid.NewGuid():N}",
        Endpoint = "chat.completions",
        StatusCode = 200,
        CreatedAt = DateTime.UtcNow,
    };

    /// <summary>Every id has exactly one usage row (no loss, no duplicate).</summary>
    public static void AssertExactlyOnce(IReadOnlyList<UsageLog> rows, IEnumerable<string> requestIds)
    {
        var counts = rows.GroupBy(r => r.RequestId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        foreach (var id in requestIds)
        {
            Assert.True(counts.TryGetValue(id, out var count) && count == 1, $"request {id} has {counts.GetValueOrDefault(id)} usage row(s); expected exactly 1");
        }
    }

    /// <summary>
    /// The rollup invariant: <c>usage_daily</c> holds exactly one row per (user, key, model requested or
    /// "", UTC day) of the raw rows that have a user and a key, and its counters are the sums of those rows.
    /// </summary>
    public static async Task AssertRollupsMatchLogsAsync(TestDatabase database)
    {
        var logs = await LogsAsync(database);
        var daily = await DailyAsync(database);
        var expected = logs
            .Where(r => r.UserId is not null && r.ApiKeyId is not null)
            .GroupBy(r => (User: r.UserId!.Value, Key: r.ApiKeyId!.Value, Model: r.ModelRequested ?? string.Empty, Day: DateOnly.FromDateTime(r.CreatedAt)))
            .ToDictionary(
                g => g.Key,
                g => (Requests: (long)g.Count(), Errors: (long)g.Count(r => r.StatusCode >= 400), Prompt: g.Sum(r => (long)r.PromptTokens),
                    Completion: g.Sum(r => (long)r.CompletionTokens), Cached: g.Sum(r => (long)r.CachedTokens), Total: g.Sum(r => (long)r.TotalTokens), Cost: g.Sum(r => r.CostMicros)));
        var actual = daily.GroupBy(d => (User: d.UserId, Key: d.ApiKeyId, d.Model, d.Day)).ToList();
        Assert.All(actual, g => Assert.True(g.Count() == 1, $"usage_daily has {g.Count()} rows for {g.Key}"));
        var actualByKey = actual.ToDictionary(
            g => g.Key,
            g => g.Select(d => (d.Requests, Errors: d.ErrorRequests, Prompt: d.PromptTokens, Completion: d.CompletionTokens, Cached: d.CachedTokens, Total: d.TotalTokens, Cost: d.CostMicros)).Single());
        Assert.Equal(
            expected.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal).Select(e => $"{e.Key} => {e.Value}"),
            actualByKey.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal).Select(e => $"{e.Key} => {e.Value}"));
    }

    /// <summary>
    /// The journal's text, read the way an operator would (<c>cat</c>): the gateway holds the file
    /// with an exclusive lock, which a .NET open would respect but a plain read does not.
    /// </summary>
    public static async Task<string> ReadJournalAsync(TestDatabase database)
    {
        var path = JournalPath(database);
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        var info = new ProcessStartInfo("cat") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(path);
        using var cat = Process.Start(info)!;
        var text = await cat.StandardOutput.ReadToEndAsync();
        await cat.WaitForExitAsync();
        return text;
    }

    /// <summary>
    /// Writes the journal as a crash would have left it, for the next host to replay. Retried for a
    /// moment: a process that another test starts (the <c>cat</c> above, a gateway process) is forked
    /// with a copy of every open descriptor of this process, the last host's journal and its
    /// exclusive lock among them, and holds them until it execs.
    /// </summary>
    public static async Task WriteJournalAsync(TestDatabase database, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                await File.WriteAllTextAsync(JournalPath(database), text);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Waits until the journal holds every id; fails listing the missing ones on timeout.</summary>
    public static async Task<string> WaitForJournalAsync(TestDatabase database, IReadOnlyCollection<string> requestIds, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var text = await ReadJournalAsync(database);
            var missing = requestIds.Where(id => !text.Contains($"\"request_id\":\"{id}\"", StringComparison.Ordinal)).ToList();
            if (missing.Count == 0)
            {
                return text;
            }

            if (DateTime.UtcNow > deadline)
            {
                var rejected = File.Exists(RejectedPath(database)) ? await File.ReadAllTextAsync(RejectedPath(database)) : string.Empty;
                var setAside = missing.Count(id => rejected.Contains($"\"request_id\":\"{id}\"", StringComparison.Ordinal));
                Assert.Fail($"{missing.Count} of {requestIds.Count} record(s) are not in the journal ({text.Length} bytes)"
                    + $" ({setAside} of them set aside in {Path.GetFileName(RejectedPath(database))}): {string.Join(", ", missing)}");
            }

            await Task.Delay(50);
        }
    }

    public static async Task ExecuteAsync(TestDatabase database, string sql)
    {
        await using var db = database.OpenContext();
        await db.Database.ExecuteSqlRawAsync(sql);
    }

    /// <summary>Makes every insert into <c>usage_logs</c> fail at once, as a database refusing writes does.</summary>
    public static Task RefuseUsageWritesAsync(TestDatabase database) => ExecuteAsync(database, database.Provider == DatabaseProvider.Sqlite
        ? "CREATE TRIGGER usage_writes_refused BEFORE INSERT ON usage_logs BEGIN SELECT RAISE(ABORT, 'usage writes refused by the test'); END;"
        : """
          CREATE FUNCTION usage_writes_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'usage writes refused by the test'; END $$;
          CREATE TRIGGER usage_writes_refused BEFORE INSERT ON usage_logs FOR EACH ROW EXECUTE FUNCTION usage_writes_refused();
          """);

    public static Task AllowUsageWritesAsync(TestDatabase database) => ExecuteAsync(database, database.Provider == DatabaseProvider.Sqlite
        ? "DROP TRIGGER usage_writes_refused;"
        : "DROP TRIGGER usage_writes_refused ON usage_logs; DROP FUNCTION usage_writes_refused();");

    /// <summary>
    /// Holds the lock a usage insert needs until disposed, so the writer stalls inside its insert
    /// (SQLite: the database's write lock; PostgreSQL: an EXCLUSIVE lock on usage_logs, which still
    /// lets reads through).
    /// </summary>
    public static async Task<IAsyncDisposable> HoldUsageWriteLockAsync(TestDatabase database)
    {
        DbConnection connection = database.Provider == DatabaseProvider.Sqlite
            ? new SqliteConnection(database.ConnectionString)
            : new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        if (database.Provider == DatabaseProvider.Postgres)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = "LOCK TABLE usage_logs IN EXCLUSIVE MODE";
            await command.ExecuteNonQueryAsync();
        }

        return new HeldLock(connection, transaction);
    }

    /// <summary>A TCP proxy in front of the test's PostgreSQL server and the gateway's connection string through it.</summary>
    public static (TcpProxy Proxy, string ConnectionString) ProxyDatabase(TestDatabase database)
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var proxy = TcpProxy.Start(builder.Host!, builder.Port);
        builder.Host = "127.0.0.1";
        builder.Port = proxy.Port;
        builder.Timeout = 3;
        return (proxy, builder.ConnectionString);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; false on timeout.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }

        return true;
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var response = await client.GetAsync(Url(path));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"GET {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        if (text.Length == 0)
        {
            return default;
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Asserts a 400 ProblemDetails naming <paramref name="field"/> in <c>errors</c>.</summary>
    public static async Task AssertFieldErrorAsync(HttpResponseMessage response, string field, string context)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{context}: expected 400, got {(int)response.StatusCode}: {text}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json", $"{context}: not a ProblemDetails: {response.Content.Headers.ContentType}");
        using var document = JsonDocument.Parse(text);
        Assert.True(document.RootElement.TryGetProperty("errors", out var errors), $"{context}: no errors member: {text}");
        Assert.True(errors.TryGetProperty(field, out var messages) && messages.GetArrayLength() > 0, $"{context}: no error for '{field}': {text}");
    }

    private sealed class HeldLock(DbConnection connection, DbTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
