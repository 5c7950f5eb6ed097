using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// The durable local journal of usage records not yet known to be in the database: an append-only
/// file of JSON lines, fsync'd once per appended batch. It holds each batch from before its insert
/// until the insert commits, and everything while the database is away. The file is opened
/// exclusively, so two instances can never share one by mistake.
/// </summary>
internal sealed partial class UsageJournal : IDisposable
{
    private readonly FileStream _file;
    private readonly ILogger _logger;

    public UsageJournal(string path, ILogger logger)
    {
        _logger = logger;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.None);
        FilePath = path;
        EndTornLine();
    }

    public string FilePath { get; }

    /// <summary>True when the file holds records that may not be in the database yet.</summary>
    public bool HasRecords => _file.Length > 0;

    /// <summary>Appends a batch and returns once it is on disk.</summary>
    public void Append(IReadOnlyList<UsageRecord> batch)
    {
        _file.Seek(0, SeekOrigin.End);
        foreach (var record in batch)
        {
            WriteLine(_file, record);
        }

        _file.Flush(flushToDisk: true);
    }

    /// <summary>Reads every record back in chunks; a line torn by a crash mid-write is skipped and logged.</summary>
    public IEnumerable<List<UsageRecord>> Read(int chunkSize)
    {
        _file.Flush(flushToDisk: false);
        _file.Seek(0, SeekOrigin.Begin);
        using var reader = new StreamReader(_file, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024, leaveOpen: true);
        var chunk = new List<UsageRecord>(chunkSize);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            UsageRecord? record = null;
            try
            {
                record = JsonSerializer.Deserialize(line, UsageJournalJsonContext.Default.UsageRecord);
            }
            catch (JsonException)
            {
            }

            if (record is null)
            {
                LogTornLine(_logger, lineNumber);
                continue;
            }

            chunk.Add(record);
            if (chunk.Count == chunkSize)
            {
                yield return chunk;
                chunk = new List<UsageRecord>(chunkSize);
            }
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }

    /// <summary>
    /// Sets aside a record the database refuses while it answers (a constraint no input should be
    /// able to break, but if one does): it goes to <c>*.rejected.jsonl</c> beside the journal, so
    /// that it is kept for the operator and no longer blocks every record after it.
    /// </summary>
    public void Reject(UsageRecord record)
    {
        using var rejected = new FileStream(FilePath + ".rejected.jsonl", FileMode.Append, FileAccess.Write, FileShare.Read);
        WriteLine(rejected, record);
        rejected.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Empties the journal once everything in it is committed. Not fsync'd: if a crash brings the
    /// records back, replaying them changes nothing (inserts skip stored request ids).
    /// </summary>
    public void Clear() => _file.SetLength(0);

    public void Dispose() => _file.Dispose();

    private static void WriteLine(FileStream file, UsageRecord record)
    {
        JsonSerializer.Serialize(file, record, UsageJournalJsonContext.Default.UsageRecord);
        file.WriteByte((byte)'\n');
    }

    /// <summary>A crash mid-write can leave a line without its newline; the next record must not be glued onto it.</summary>
    private void EndTornLine()
    {
        if (_file.Length == 0)
        {
            return;
        }

        _file.Seek(-1, SeekOrigin.End);
        if (_file.ReadByte() != '\n')
        {
            _file.WriteByte((byte)'\n');
            _file.Flush(flushToDisk: true);
        }
    }

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Skipped line {Line} of the usage journal: it was cut short by a crash while being written")]
    private static partial void LogTornLine(ILogger logger, int line);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UsageRecord))]
internal sealed partial class UsageJournalJsonContext : JsonSerializerContext;
