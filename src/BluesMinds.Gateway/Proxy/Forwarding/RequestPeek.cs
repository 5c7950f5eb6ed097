using System.Text.Json;

namespace BluesMinds.Gateway.Proxy.Forwarding;

/// <summary>The OpenAI operations the gateway serves.</summary>
internal enum ProxyOperation
{
    ChatCompletions,
    Embeddings,
}

/// <summary>
/// What the gateway needs from a request body, read in one forward pass without building a
/// document: model, stream, max_tokens and n; the body itself is forwarded untouched.
/// </summary>
internal sealed class RequestPeek
{
    public string? Model { get; private set; }

    public bool Stream { get; private set; }

    public int? MaxTokens { get; private set; }

    /// <summary>How many choices the client asked for; each may use up to <see cref="MaxTokens"/>.</summary>
    public int Choices { get; private set; } = 1;

    /// <summary>Whether the body has a <c>stream_options</c> member (the gateway then merges into it).</summary>
    public bool HasStreamOptions { get; private set; }

    /// <summary>Null when the body is acceptable; otherwise the OpenAI-style problem.</summary>
    public PeekProblem? Problem { get; private set; }

    public static RequestPeek Read(ReadOnlySpan<byte> body, ProxyOperation operation)
    {
        var peek = new RequestPeek();
        try
        {
            peek.Parse(body, operation);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : string.Empty;
            peek.Problem = new PeekProblem($"The request body is not valid JSON{where}.", null, "invalid_json");
        }

        return peek;
    }

    private void Parse(ReadOnlySpan<byte> body, ProxyOperation operation)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 128 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            Problem = new PeekProblem("The request body must be a JSON object.", null, "invalid_json");
            return;
        }

        var sawMessages = false;
        var sawInput = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("model"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.String || reader.GetString() is not { Length: > 0 and <= 256 } model)
                {
                    Problem ??= Invalid("model", "must be a non-empty string");
                }
                else
                {
                    Model = model;
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("messages"u8))
            {
                reader.Read();
                sawMessages = true;
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    Problem ??= Invalid("messages", "must be an array of messages");
                }
                else
                {
                    // A copy of the reader looks at the first element; the original skips the whole array.
                    var first = reader;
                    first.Read();
                    if (first.TokenType == JsonTokenType.EndArray)
                    {
                        Problem ??= Invalid("messages", "must contain at least one message");
                    }
                    else if (first.TokenType != JsonTokenType.StartObject)
                    {
                        Problem ??= Invalid("messages", "must be an array of message objects");
                    }
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("input"u8))
            {
                reader.Read();
                sawInput = true;
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.StartArray))
                {
                    Problem ??= Invalid("input", "must be a string or an array");
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("stream"u8))
            {
                reader.Read();
                if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
                {
                    Stream = reader.GetBoolean();
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    Problem ??= Invalid("stream", "must be a boolean");
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8))
            {
                var name = reader.GetString()!;
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var max) || max < 1)
                {
                    Problem ??= Invalid(name, "must be an integer of at least 1");
                }
                else
                {
                    MaxTokens = max;
                }

                reader.Skip();
            }
            else if (reader.ValueTextEquals("n"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null && (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var n) || n is < 1 or > 128))
                {
                    Problem ??= Invalid("n", "must be an integer from 1 to 128");
                }
                else if (reader.TokenType == JsonTokenType.Number)
                {
                    Choices = reader.GetInt32();
                }

                reader.Skip();
            }
            else
            {
                HasStreamOptions |= reader.ValueTextEquals("stream_options"u8);
                reader.Read();
                reader.Skip();
            }
        }

        // Reading on to the end rejects trailing garbage after the object.
        while (reader.Read())
        {
        }

        if (Model is null)
        {
            Problem ??= new PeekProblem("You must provide a model parameter.", "model", "missing_required_parameter");
        }

        if (operation == ProxyOperation.ChatCompletions && !sawMessages)
        {
            Problem ??= new PeekProblem("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
        }

        if (operation == ProxyOperation.Embeddings && !sawInput)
        {
            Problem ??= new PeekProblem("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        }

        if (operation == ProxyOperation.Embeddings && Stream)
        {
            Problem ??= Invalid("stream", "is not supported for embeddings");
        }
    }

    private static PeekProblem Invalid(string param, string rule) => new($"Invalid value for '{param}': {param} {rule}.", param, "invalid_value");
}

/// <summary>A 400 in OpenAI's terms.</summary>
internal sealed record PeekProblem(string Message, string? Param, string Code);
