using Microsoft.ML.Tokenizers;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// Counts tokens with the o200k_base encoding (GPT-4o family): every prompt, for the limits'
/// reservation, and the completion when an upstream reports no usage (flagged as estimated).
/// </summary>
internal sealed class TokenCounter
{
    // Chat formatting overhead per message and per reply, as OpenAI documents for its chat models.
    private const int TokensPerMessage = 3;
    private const int TokensPerReply = 3;

    private readonly Lazy<Tokenizer> _tokenizer = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public int Count(string text) => text.Length == 0 ? 0 : _tokenizer.Value.CountTokens(text);

    /// <summary>Prompt tokens of a chat request: every string found in the messages, plus the chat overhead.</summary>
    public int CountChatPrompt(ReadOnlySpan<byte> body)
    {
        var total = TokensPerReply;
        var reader = new System.Text.Json.Utf8JsonReader(body);
        var inMessages = false;
        var depth = 0;
        while (reader.Read())
        {
            if (!inMessages)
            {
                if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("messages"u8))
                {
                    inMessages = true;
                    reader.Read();
                    depth = reader.CurrentDepth;
                }

                continue;
            }

            if (reader.TokenType == System.Text.Json.JsonTokenType.EndArray && reader.CurrentDepth == depth)
            {
                break;
            }

            if (reader.TokenType == System.Text.Json.JsonTokenType.StartObject && reader.CurrentDepth == depth + 1)
            {
                total += TokensPerMessage;
            }
            else if (reader.TokenType == System.Text.Json.JsonTokenType.String)
            {
                total += Count(reader.GetString()!);
            }
        }

        return total;
    }

    /// <summary>Tokens of an embeddings input: a string or an array of strings.</summary>
    public int CountEmbeddingInput(ReadOnlySpan<byte> body)
    {
        var total = 0;
        var reader = new System.Text.Json.Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType == System.Text.Json.JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                if (reader.TokenType == System.Text.Json.JsonTokenType.String)
                {
                    return Count(reader.GetString()!);
                }

                var depth = reader.CurrentDepth;
                while (reader.Read() && !(reader.TokenType == System.Text.Json.JsonTokenType.EndArray && reader.CurrentDepth == depth))
                {
                    if (reader.TokenType == System.Text.Json.JsonTokenType.String)
                    {
                        total += Count(reader.GetString()!);
                    }
                    else if (reader.TokenType == System.Text.Json.JsonTokenType.Number)
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
}

/// <summary>Loads the tokenizer's vocabulary while the host starts, so that no request pays for it.</summary>
internal sealed class TokenCounterWarmUp(TokenCounter tokens) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(() => tokens.Count("warm up"), stoppingToken);
}
