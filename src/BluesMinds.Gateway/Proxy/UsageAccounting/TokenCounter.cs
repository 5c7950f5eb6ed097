using System.Buffers;
using System.Runtime;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Counts tokens with the o200k_base encoding (GPT-4o family): every prompt, for the limits'
/// reservation, and the completion when an upstream reports no usage (flagged as estimated).
/// </summary>
internal sealed partial class TokenCounter
{
    // Chat formatting overhead per message and per reply, as OpenAI documents for its chat models.
    private const int TokensPerMessage = 3;
    private const int TokensPerReply = 3;

    // o200k_base's pre-tokeniser, as tiktoken and Microsoft.ML.Tokenizers define it.
    internal const string Pattern = /*lang=regex*/ @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const int StackBytes = 512;

    private readonly Lazy<TokenVocabulary> _vocabulary = new(TokenVocabulary.LoadO200kBase);

    [GeneratedRegex(Pattern)]
    private static partial Regex Words();

    /// <summary>Loads the ranks now rather than on the first request.</summary>
    public void Load() => _ = _vocabulary.Value;

    /// <summary>Tokens of a text, as ordinary text: what looks like a special token counts as its characters.</summary>
    public int Count(ReadOnlySpan<char> text)
    {
        var vocabulary = _vocabulary.Value;
        var total = 0;
        byte[]? rented = null;
        Span<byte> buffer = stackalloc byte[StackBytes];
        try
        {
            foreach (var word in Words().EnumerateMatches(text))
            {
                var chars = text.Slice(word.Index, word.Length);
                var needed = Encoding.UTF8.GetMaxByteCount(chars.Length);
                if (needed > buffer.Length)
                {
                    if (rented is not null)
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }

                    buffer = rented = ArrayPool<byte>.Shared.Rent(needed);
                }

                total += BytePairCount.Count(vocabulary, buffer[..Encoding.UTF8.GetBytes(chars, buffer)]);
            }

            return total;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Prompt tokens of a chat request: every string found in the messages, plus the chat overhead.</summary>
    public int CountChatPrompt(ReadOnlySpan<byte> body)
    {
        var total = TokensPerReply;
        var reader = new Utf8JsonReader(body);
        var inMessages = false;
        var depth = 0;
        while (reader.Read())
        {
            if (!inMessages)
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("messages"u8))
                {
                    inMessages = true;
                    reader.Read();
                    depth = reader.CurrentDepth;
                }

                continue;
            }

            if (reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth)
            {
                break;
            }

            if (reader.TokenType == JsonTokenType.StartObject && reader.CurrentDepth == depth + 1)
            {
                total += TokensPerMessage;
            }
            else if (reader.TokenType == JsonTokenType.String)
            {
                total += CountString(ref reader);
            }
        }

        return total;
    }

    /// <summary>Tokens of an embeddings input: a string or an array of strings.</summary>
    public int CountEmbeddingInput(ReadOnlySpan<byte> body)
    {
        var total = 0;
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    return CountString(ref reader);
                }

                var depth = reader.CurrentDepth;
                while (reader.Read() && !(reader.TokenType == JsonTokenType.EndArray && reader.CurrentDepth == depth))
                {
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        total += CountString(ref reader);
                    }
                    else if (reader.TokenType == JsonTokenType.Number)
                    {
                        // Pre-tokenised input: each number is one token.
                        total++;
                    }
                }

                return total;
            }
        }

        return total;
    }

    // The JSON string, unescaped into a pooled buffer: it never becomes a string on the heap. The
    // readers here read one contiguous body, so the value is always ValueSpan, and its unescaped
    // (or merely decoded) text never has more chars than it has bytes.
    private int CountString(ref Utf8JsonReader reader)
    {
        var escaped = reader.ValueSpan.Length;
        char[]? rented = null;
        var buffer = escaped <= StackBytes / sizeof(char) ? stackalloc char[StackBytes / sizeof(char)] : (rented = ArrayPool<char>.Shared.Rent(escaped));
        try
        {
            return Count(buffer[..reader.CopyString(buffer)]);
        }
        catch (InvalidOperationException)
        {
            // A lone surrogate escape ("\ud800") is valid JSON that .NET will not decode; the
            // upstream may accept it, so it is counted as the escaped text it arrived as.
            return Count(buffer[..Encoding.UTF8.GetChars(reader.ValueSpan, buffer)]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}

/// <summary>Loads the token ranks while the host starts, so that no request pays for it.</summary>
/// <remarks>
/// Reading them leaves ~4 MB of buffers on the large object heap, which the collector sweeps but never
/// compacts by default, and start-up leaves more garbage beside it. One compacting collection after
/// the load gives it back (idle RSS −5 MB, committed heap 27 → 17 MB in side-by-side starts): once
/// per process, since start-up garbage is the process's, and a process hosting many hosts (the
/// integration tests) would otherwise stop every thread for a full collection at each start.
/// </remarks>
internal sealed class TokenCounterWarmUp(TokenCounter tokens) : BackgroundService
{
    private static int _compacted;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() =>
    {
        tokens.Load();
        if (Interlocked.Exchange(ref _compacted, 1) == 0)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }, stoppingToken);
}
