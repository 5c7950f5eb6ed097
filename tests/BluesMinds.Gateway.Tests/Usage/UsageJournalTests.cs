using System.Text;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BluesMinds.Gateway.Tests.Usage;

public sealed class UsageJournalTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "bm-journal-tests-" + Guid.NewGuid().ToString("N"));
    private readonly List<UsageJournal> _opened = [];

    public UsageJournalTests() => JournalPath = Path.Combine(_directory, "nested", "usage-journal.jsonl");

    private string JournalPath { get; }

    public void Dispose()
    {
        foreach (var journal in _opened)
        {
            journal.Dispose();
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private UsageJournal Open(ILogger? logger = null)
    {
        var journal = new UsageJournal(JournalPath, logger ?? NullLogger.Instance);
        _opened.Add(journal);
        return journal;
    }

    private static UsageRecord Record(int i) => new()
    {
        RequestId = $"req_{i:D4}",
        Endpoint = "/v1/chat/completions",
        ModelRequested = "gpt-4o-mini",
        PromptTokens = i,
        CompletionTokens = 2 * i,
        TotalTokens = 3 * i,
        StatusCode = 200,
        CreatedAt = new DateTime(2026, 3, 10, 12, 0, 0, DateTimeKind.Utc).AddSeconds(i),
    };

    private static UsageRecord Full() => new()
    {
        RequestId = "chatcmpl-gw-01JQ7Z8X9Y",
        Endpoint = "/v1/chat/completions",
        UserId = Guid.Parse("6f1c2a1e-0d4b-4e53-9a55-6a2f3f0c1b01"),
        ApiKeyId = Guid.Parse("0b7d9e44-51a3-4c1e-8d7f-2f6b9f1a9c02"),
        ModelRequested = "模型-ünïcødé-🎵 \"quoted\"",
        ModelServed = "qwen2.5:72b-instruct-q4_K_M",
        ServerId = Guid.Parse("c3a1f5d2-7e8b-4a9c-b0d1-e2f3a4b5c603"),
        PromptTokens = int.MaxValue,
        CompletionTokens = 500,
        CachedTokens = 200,
        TotalTokens = 1500,
        TokensEstimated = true,
        // Above 2^53: survives only if never read as a double.
        CostMicros = 9_007_199_254_740_993,
        LatencyMs = 1234,
        TimeToFirstByteMs = 56,
        Streamed = true,
        ClientDisconnected = true,
        StatusCode = 499,
        // A line break inside a value must not split the JSON line.
        ErrorCode = "client_closed\nline two\u2028\r",
        CreatedAt = new DateTime(2026, 3, 10, 12, 34, 56, DateTimeKind.Utc).AddTicks(1_234_567),
    };

    private static UsageRecord Sparse() => new()
    {
        RequestId = "r-sparse",
        Endpoint = "/v1/embeddings",
        CreatedAt = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    private static void AssertSame(UsageRecord expected, UsageRecord actual)
    {
        foreach (var property in typeof(UsageRecord).GetProperties())
        {
            Assert.True(Equals(property.GetValue(expected), property.GetValue(actual)), $"{property.Name}: expected {property.GetValue(expected)}, got {property.GetValue(actual)}");
        }

        Assert.Equal(expected.CreatedAt.Kind, actual.CreatedAt.Kind);
    }

    private static List<UsageRecord> ReadAll(UsageJournal journal, int chunkSize = 100) => [.. journal.Read(chunkSize).SelectMany(c => c)];

    [Fact]
    public void Append_ThenRead_RoundTripsEveryField()
    {
        var journal = Open();
        var full = Full();
        var sparse = Sparse();

        journal.Append([full, sparse]);
        var back = ReadAll(journal);

        Assert.Equal(2, back.Count);
        AssertSame(full, back[0]);
        AssertSame(sparse, back[1]);
        Assert.Null(back[1].UserId);
        Assert.Null(back[1].ModelRequested);
        Assert.Null(back[1].TimeToFirstByteMs);
        Assert.Null(back[1].ErrorCode);
    }

    [Fact]
    public void Append_WritesOneJsonLinePerRecordWithSnakeCaseNames()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Full(), Sparse()]);
        }

        var text = File.ReadAllText(JournalPath, Encoding.UTF8);
        var lines = text.Split('\n');

        Assert.Equal(3, lines.Length);
        Assert.Equal(string.Empty, lines[2]);
        Assert.Contains("\"request_id\":\"chatcmpl-gw-01JQ7Z8X9Y\"", lines[0], StringComparison.Ordinal);
        Assert.Contains("\"time_to_first_byte_ms\":56", lines[0], StringComparison.Ordinal);
        // Nulls are left out.
        Assert.DoesNotContain("user_id", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Append_SurvivesReopening()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Full()]);
            journal.Append([Record(1), Record(2)]);
        }

        var reopened = Open();

        Assert.True(reopened.HasRecords);
        var back = ReadAll(reopened);
        Assert.Equal(["chatcmpl-gw-01JQ7Z8X9Y", "req_0001", "req_0002"], back.Select(r => r.RequestId));
        AssertSame(Full(), back[0]);
    }

    [Theory]
    [InlineData(7, 3, new[] { 3, 3, 1 })]
    [InlineData(6, 3, new[] { 3, 3 })]
    [InlineData(2, 3, new[] { 2 })]
    [InlineData(3, 1, new[] { 1, 1, 1 })]
    [InlineData(0, 5, new int[0])]
    public void Read_YieldsChunksOfAtMostTheChunkSizeInOrder(int records, int chunkSize, int[] sizes)
    {
        var journal = Open();
        if (records > 0)
        {
            journal.Append([.. Enumerable.Range(1, records).Select(Record)]);
        }

        var chunks = journal.Read(chunkSize).ToList();

        Assert.Equal(sizes, chunks.Select(c => c.Count));
        Assert.Equal(Enumerable.Range(1, records).Select(i => $"req_{i:D4}"), chunks.SelectMany(c => c).Select(r => r.RequestId));
    }

    [Fact]
    public void Read_CanBeRepeatedAndAppendContinuesAfterIt()
    {
        var journal = Open();
        journal.Append([Record(1), Record(2)]);

        Assert.Equal(2, ReadAll(journal).Count);
        Assert.Equal(2, ReadAll(journal).Count);
        journal.Append([Record(3)]);

        Assert.Equal(["req_0001", "req_0002", "req_0003"], ReadAll(journal).Select(r => r.RequestId));
    }

    [Fact]
    public void Clear_EmptiesTheJournal()
    {
        var journal = Open();
        Assert.False(journal.HasRecords);
        journal.Append([Record(1), Record(2)]);
        Assert.True(journal.HasRecords);

        journal.Clear();

        Assert.False(journal.HasRecords);
        Assert.Empty(journal.Read(10));
        Assert.Equal(0, new FileInfo(JournalPath).Length);

        journal.Append([Record(3)]);
        Assert.Equal(["req_0003"], ReadAll(journal).Select(r => r.RequestId));
    }

    [Fact]
    public void Read_InvalidLineInTheMiddle_IsSkippedAndLogged()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Record(1)]);
        }

        File.AppendAllText(JournalPath, "{\"request_id\":\"broken\",\"endpo\n\nnot json at all\n{\"endpoint\":\"/v1/x\"}\n");
        var logger = new ListLogger();
        var reopened = Open(logger);
        reopened.Append([Record(2)]);

        Assert.Equal(["req_0001", "req_0002"], ReadAll(reopened).Select(r => r.RequestId));
        // Lines 2, 4 and 5 (a record without its required request id) are skipped; line 3 is empty.
        Assert.Equal([2, 4, 5], logger.Entries.Where(e => e.Id == 4002).Select(e => (int)e.State["Line"]!));
    }

    [Fact]
    public void Reopen_AfterATornWrite_KeepsNewRecordsOffTheTornLine()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Record(1), Record(2)]);
        }

        // A crash in the middle of the third record: no newline at the end of the file.
        File.AppendAllText(JournalPath, "{\"request_id\":\"req_0003\",\"endpoint\":\"/v1/chat/compl");
        var logger = new ListLogger();

        var reopened = Open(logger);
        reopened.Append([Record(4), Record(5)]);

        Assert.Equal(["req_0001", "req_0002", "req_0004", "req_0005"], ReadAll(reopened).Select(r => r.RequestId));
        Assert.Equal([3], logger.Entries.Where(e => e.Id == 4002).Select(e => (int)e.State["Line"]!));
    }

    [Fact]
    public void Reopen_AfterAWriteTornInsideAMultiByteCharacter_KeepsNewRecordsReadable()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Record(1)]);
        }

        var torn = Encoding.UTF8.GetBytes("{\"request_id\":\"req_0002\",\"model_requested\":\"模");
        using (var file = new FileStream(JournalPath, FileMode.Append))
        {
            file.Write(torn, 0, torn.Length - 1);
        }

        var reopened = Open();
        reopened.Append([Record(3)]);

        Assert.Equal(["req_0001", "req_0003"], ReadAll(reopened).Select(r => r.RequestId));
    }

    [Fact]
    public void Reopen_FileThatIsOnlyATornLine_HasRecordsAndReadsOnlyNewOnes()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(JournalPath)!);
        File.WriteAllText(JournalPath, "{\"request_id\":\"x\"");

        var journal = Open();
        Assert.True(journal.HasRecords);
        Assert.Empty(journal.Read(10));

        journal.Append([Record(1)]);
        Assert.Equal(["req_0001"], ReadAll(journal).Select(r => r.RequestId));
    }

    [Fact]
    public void Reopen_CleanFile_AddsNothing()
    {
        using (var journal = new UsageJournal(JournalPath, NullLogger.Instance))
        {
            journal.Append([Record(1)]);
        }

        var length = new FileInfo(JournalPath).Length;
        using (new UsageJournal(JournalPath, NullLogger.Instance))
        {
        }

        Assert.Equal(length, new FileInfo(JournalPath).Length);
    }

    [Fact]
    public void Open_SamePathTwice_Throws()
    {
        var first = Open();
        first.Append([Record(1)]);

        Assert.ThrowsAny<IOException>(() => _opened.Add(new UsageJournal(JournalPath, NullLogger.Instance)));

        first.Dispose();
        var second = Open();
        Assert.Equal(["req_0001"], ReadAll(second).Select(r => r.RequestId));
    }

    [Fact]
    public void Open_CreatesMissingDirectories()
    {
        Assert.False(Directory.Exists(Path.GetDirectoryName(JournalPath)));

        var journal = Open();

        Assert.True(File.Exists(JournalPath));
        Assert.Equal(JournalPath, journal.FilePath);
        Assert.False(journal.HasRecords);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(int Id, IReadOnlyDictionary<string, object?> State)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
            Entries.Add((eventId.Id, values.ToDictionary(p => p.Key, p => p.Value)));
        }
    }
}
