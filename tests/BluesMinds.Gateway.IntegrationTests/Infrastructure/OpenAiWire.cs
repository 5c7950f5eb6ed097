using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>What the OpenAI-compatible routes put on the wire: the error envelope and server-sent events.</summary>
internal static class OpenAiWire
{
    /// <summary>Passed as <c>code</c> or <c>param</c> when a test does not care about its value.</summary>
    public const string Any = "\u0000any";

    /// <summary>
    /// Asserts the status and OpenAI's <c>{"error":{"message","type","param","code"}}</c> envelope: all
    /// four members present, a non-empty message and type, and the given type, code and param (each
    /// unless <see cref="Any"/>; the contract fixes no <c>type</c> for 401, which OpenAI itself sends
    /// as <c>invalid_request_error</c>). <paramref name="context"/> names the case in failure messages.
    /// Returns the <c>error</c> object.
    /// </summary>
    public static async Task<JsonElement> AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, string type, string? code = Any, string? param = Any, string? context = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        var what = $"{context}{(context is null ? string.Empty : ": ")}{(int)response.StatusCode} {text}";
        Assert.True(response.StatusCode == status, $"Expected {(int)status}; {what}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json", $"Expected application/json; {what}");
        using var document = JsonDocument.Parse(text);
        var error = document.RootElement.GetProperty("error").Clone();
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), what);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()), what);
        Assert.True(type == Any || error.GetProperty("type").GetString() == type, $"Expected type {type}; {what}");
        Assert.True(error.TryGetProperty("param", out var actualParam), $"No param member; {what}");
        Assert.True(error.TryGetProperty("code", out var actualCode), $"No code member; {what}");
        var actualCodeText = actualCode.ValueKind == JsonValueKind.Null ? null : actualCode.GetString();
        var actualParamText = actualParam.ValueKind == JsonValueKind.Null ? null : actualParam.GetString();
        Assert.True(code == Any || actualCodeText == code, $"Expected code {code ?? "null"}; {what}");
        Assert.True(param == Any || actualParamText == param, $"Expected param {param ?? "null"}; {what}");
        return error;
    }

    /// <summary>
    /// The <c>data:</c> payloads of a server-sent event stream, as they arrive. A connection that
    /// breaks ends the sequence instead of throwing, so a test can assert on what arrived.
    /// </summary>
    public static async IAsyncEnumerable<string> ReadEventsAsync(HttpResponseMessage response, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        using var reader = new StreamReader(stream);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken);
            }
            catch (IOException)
            {
                yield break;
            }
            catch (HttpRequestException)
            {
                yield break;
            }

            if (line is null)
            {
                yield break;
            }

            if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                yield return line["data:".Length..].TrimStart();
            }
        }
    }

    /// <summary>Every <c>data:</c> payload of a stream, to its end.</summary>
    public static async Task<List<string>> ReadAllEventsAsync(HttpResponseMessage response)
    {
        var events = new List<string>();
        await foreach (var data in ReadEventsAsync(response))
        {
            events.Add(data);
        }

        return events;
    }

    /// <summary>The concatenated <c>choices[0].delta.content</c> of the chunk events.</summary>
    public static string StreamedContent(IEnumerable<string> events) =>
        string.Concat(events.Where(e => e.StartsWith('{')).Select(e =>
        {
            using var document = JsonDocument.Parse(e);
            return document.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String
                ? content.GetString()
                : null;
        }));
}
