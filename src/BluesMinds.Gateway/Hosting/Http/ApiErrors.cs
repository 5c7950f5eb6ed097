using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Writes errors in the format the caller's API speaks: OpenAI's <c>{"error":{…}}</c> envelope on the
/// OpenAI-compatible routes (<c>/api/v1/*</c>, <c>/v1/*</c>), RFC 9457 ProblemDetails everywhere else.
/// </summary>
internal static class ApiErrors
{
    // Messages quote model names ('gpt-4o'); JSON needs no HTML-safe escaping of them.
    private static readonly System.Text.Json.JsonSerializerOptions OpenAiErrorOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        TypeInfoResolver = ApiErrorsJsonContext.Default,
    };

    public static bool IsOpenAiRoute(PathString path) =>
        path.StartsWithSegments("/api/v1", StringComparison.OrdinalIgnoreCase) ||
        path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase);

    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, string? openAiCode = null, string? param = null, string? openAiType = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = status;
        response.Headers.CacheControl = "no-store";
        if (IsOpenAiRoute(context.Request.Path))
        {
            var error = new OpenAiErrorEnvelope(new OpenAiError(detail, openAiType ?? OpenAiType(status), param, openAiCode));
            await response.WriteAsJsonAsync(error, OpenAiErrorOptions, "application/json", context.RequestAborted);
            return;
        }

        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }

    /// <summary>The <c>type</c> values OpenAI's SDKs and clients expect for each status.</summary>
    public static string OpenAiType(int status) => status switch
    {
        401 => "invalid_request_error",
        403 => "permission_error",
        404 => "invalid_request_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };
}

internal sealed record OpenAiErrorEnvelope([property: JsonPropertyName("error")] OpenAiError Error);

internal sealed record OpenAiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);

[JsonSerializable(typeof(OpenAiErrorEnvelope))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class ApiErrorsJsonContext : JsonSerializerContext;
