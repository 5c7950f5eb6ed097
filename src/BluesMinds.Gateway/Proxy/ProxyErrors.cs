using System.Text;
using System.Text.Json;
using BluesMinds.Gateway.Hosting.Http;

namespace BluesMinds.Gateway.Proxy;

/// <summary>OpenAI-style error answers of the hot path, and the SSE error event for a stream that fails after it started.</summary>
internal static class ProxyErrors
{
    public static Task WriteAsync(ProxyContext context, int status, string message, string code, string? param = null)
    {
        context.Usage.StatusCode = status;
        context.Usage.ErrorCode = code;
        return ApiErrors.WriteAsync(context.Http, status, code, message, code, param);
    }

    /// <summary>Ends a started stream with an error event so that clients never mistake it for a clean finish.</summary>
    public static async Task WriteStreamErrorAsync(HttpContext http, string message, string code)
    {
        var buffer = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteString("message", message);
            writer.WriteString("type", "server_error");
            writer.WriteNull("param");
            writer.WriteString("code", code);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes("data: "));
        await http.Response.Body.WriteAsync(buffer.ToArray());
        await http.Response.Body.WriteAsync("\n\n"u8.ToArray());
        await http.Response.Body.FlushAsync();
    }
}
