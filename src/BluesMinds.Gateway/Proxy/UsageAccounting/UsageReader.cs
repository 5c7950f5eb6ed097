using System.Buffers;
using System.Text;
using System.Text.Json;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>Token counts as an upstream reported them in a <c>usage</c> object.</summary>
internal readonly record struct ReportedUsage(int PromptTokens, int CompletionTokens, int TotalTokens, int CachedTokens);

/// <summary>
/// Watches the bytes of a response as they pass and keeps what accounting needs: the upstream's
/// <c>usage</c> (for streams, from the final chunk), and for streams the text of the content
/// deltas so that a cut-off stream can still be counted.
/// </summary>
internal sealed class UsageReader(bool streaming)
{
    private const int MaxBufferedJson = 4 * 1024 * 1024;
    private readonly ArrayBufferWriter<byte> _pending = new();
    private readonly StringBuilder _completion = new();

    public ReportedUsage? Usage { get; private set; }

    /// <summary>Content deltas seen so far (streams only).</summary>
    public string CompletionText => _completion.ToString();

    public int ChunkCount { get; private set; }

    public bool SawDone { get; private set; }

    public void Observe(ReadOnlySpan<byte> bytes)
    {
        if (!streaming)
        {
            // Non-streamed JSON is parsed once at the end; very large bodies are not held for it.
            if (_pending.WrittenCount + bytes.Length <= MaxBufferedJson)
            {
                _pending.Write(bytes);
            }

            return;
        }

        _pending.Write(bytes);
        var data = _pending.WrittenSpan;
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
            var rest = data[consumed..].ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(rest);
        }
    }

    /// <summary>For non-streamed responses: read the usage of the whole JSON body.</summary>
    public void Complete()
    {
        if (streaming || _pending.WrittenCount == 0)
        {
            return;
        }

        try
        {
            var reader = new Utf8JsonReader(_pending.WrittenSpan);
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
            var reader = new Utf8JsonReader(_pending.WrittenSpan);
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
                        _completion.Append(reader.GetString());
                    }
                }
            }
        }
        catch (JsonException)
        {
            // A malformed event is passed through untouched; it just does not count.
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
