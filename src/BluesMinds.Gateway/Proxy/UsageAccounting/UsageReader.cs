using System.Buffers;
using System.Text;
using System.Text.Json;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>Token counts as an upstream reported them in a <c>usage</c> object.</summary>
internal readonly record struct ReportedUsage(int PromptTokens, int CompletionTokens, int TotalTokens, int CachedTokens);

/// <summary>
/// Watches the bytes of a response as they pass and keeps what accounting needs: the upstream's
/// <c>usage</c> (for streams, from the final chunk), and for streams the text of the content
/// deltas so that a cut-off stream can still be counted. Its buffer is rented from the shared pool
/// (a growing buffer per response was the largest allocation of a request): dispose it once the
/// request is accounted.
/// </summary>
internal sealed class UsageReader(bool streaming) : IDisposable
{
    private const int MaxBufferedJson = 4 * 1024 * 1024;
    private byte[] _buffer = [];
    private int _length;
    private StringBuilder? _completion;

    public ReportedUsage? Usage { get; private set; }

    /// <summary>Content deltas seen so far (streams only).</summary>
    public string CompletionText => _completion?.ToString() ?? string.Empty;

    private ReadOnlySpan<byte> Pending => _buffer.AsSpan(0, _length);

    public int ChunkCount { get; private set; }

    public bool SawDone { get; private set; }

    public void Observe(ReadOnlySpan<byte> bytes)
    {
        if (!streaming)
        {
            // Non-streamed JSON is parsed once at the end; very large bodies are not held for it.
            if (_length + bytes.Length <= MaxBufferedJson)
            {
                Append(bytes);
            }

            return;
        }

        Append(bytes);
        var data = Pending;
        var consumed = 0;
        while (true)
        {
            var newline = data[consumed..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }

            var line = data.Slice(consumed, newline).TrimEnd((byte)'\r');
            consumed += newline + 1;
            if (line.StartsWith("data:"u8))
            {
                ReadEvent(line[5..].TrimStart((byte)' '));
            }
        }

        if (consumed > 0)
        {
            // An event cut at the end of this read stays for the next one.
            data[consumed..].CopyTo(_buffer);
            _length -= consumed;
        }
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
            _length = 0;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_length + bytes.Length, 1024));
            Pending.CopyTo(larger);
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = larger;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>For non-streamed responses: read the usage of the whole JSON body.</summary>
    public void Complete()
    {
        if (streaming || _length == 0)
        {
            return;
        }

        try
        {
            var reader = new Utf8JsonReader(Pending);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    Usage = ReadUsage(ref reader);
                    return;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: no reported usage, the caller estimates.
        }
    }

    /// <summary>Completion text of a non-streamed chat response, for estimating when no usage came back.</summary>
    public string NonStreamedCompletionText()
    {
        var text = new StringBuilder();
        try
        {
            var reader = new Utf8JsonReader(Pending);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("content"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        text.Append(reader.GetString());
                    }
                }
            }
        }
        catch (JsonException)
        {
        }

        return text.ToString();
    }

    private void ReadEvent(ReadOnlySpan<byte> json)
    {
        if (json.SequenceEqual("[DONE]"u8))
        {
            SawDone = true;
            return;
        }

        ChunkCount++;
        try
        {
            var reader = new Utf8JsonReader(json);
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                if (reader.CurrentDepth == 1 && reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        Usage = ReadUsage(ref reader);
                    }
                }
                else if (reader.ValueTextEquals("content"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        AppendCompletion(ref reader);
                    }
                }
            }
        }
        catch (JsonException)
        {
            // A malformed event is passed through untouched; it just does not count.
        }
    }

    /// <summary>Appends a content delta, unescaped, without a string per delta.</summary>
    private void AppendCompletion(ref Utf8JsonReader reader)
    {
        _completion ??= new StringBuilder();
        var length = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        char[]? rented = null;
        var chars = length <= 256 ? stackalloc char[256] : (rented = ArrayPool<char>.Shared.Rent(length));
        try
        {
            _completion.Append(chars[..reader.CopyString(chars)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private static int ReadInt(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) ? value : 0;

    private static ReportedUsage? ReadUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        int prompt = 0, completion = 0, total = 0, cached = 0;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                reader.Read();
                prompt = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("completion_tokens"u8))
            {
                reader.Read();
                completion = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("total_tokens"u8))
            {
                reader.Read();
                total = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("cached_tokens"u8))
            {
                reader.Read();
                cached = ReadInt(ref reader);
            }
        }

        return new ReportedUsage(Math.Max(0, prompt), Math.Max(0, completion), Math.Max(0, total == 0 ? prompt + completion : total), Math.Max(0, cached));
    }
}
