using System.Text.Json;
using BluesMinds.Gateway.Hosting.Logging;
using Microsoft.AspNetCore.Diagnostics;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Turns exceptions into clear client errors: bad request bodies (invalid JSON, too large) keep their
/// 4xx status with a helpful message; anything else is a 500 that says nothing about the exception
/// outside Development.
/// </summary>
internal sealed partial class GatewayExceptionHandler(IHostEnvironment environment, ILogger<GatewayExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge }:
                await ApiErrors.WriteAsync(context, 413, "Request body too large", "The request body is larger than the allowed limit.", "request_too_large");
                return true;
            case BadHttpRequestException bad when BindFailure().Match(bad.Message) is { Success: true } match && !ApiErrors.IsOpenAiRoute(context.Request.Path):
                // A query or route value of the wrong type: a validation problem naming the field as the client sent it.
                var field = JsonNamingPolicy.SnakeCaseLower.ConvertName(match.Groups["name"].Value);
                var problem = $"The value of '{field}' is not valid; check its type and format.";
                await TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [problem] }, detail: problem, title: "The request is invalid.")
                    .ExecuteAsync(context);
                return true;
            case BadHttpRequestException bad when FindJsonException(bad) is { } json:
                await ApiErrors.WriteAsync(context, 400, "Invalid JSON", DescribeJsonError(json), "invalid_json");
                return true;
            case BadHttpRequestException bad:
                await ApiErrors.WriteAsync(context, bad.StatusCode, "Bad request", BadRequestDetail(bad), "invalid_request");
                return true;
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                // The client went away; there is no one to answer.
                return true;
        }

        Log.UnhandledException(logger, context.Request.Method, context.Request.Path, exception);
        var detail = environment.IsDevelopment()
            ? $"{exception.GetType().Name}: {exception.Message}"
            : "An unexpected error occurred. Quote the request id when reporting it.";
        await ApiErrors.WriteAsync(context, 500, "Internal server error", detail, "internal_error");
        return true;
    }

    private static JsonException? FindJsonException(Exception exception)
    {
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json;
            }
        }

        return null;
    }

    /// <summary>Where the JSON broke, without echoing any of the body.</summary>
    private static string DescribeJsonError(JsonException json)
    {
        var where = json.LineNumber is { } line ? $" at line {line + 1}, position {json.BytePositionInLine + 1}" : string.Empty;
        var path = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? string.Empty : $" (field {json.Path})";
        return $"The request body is not valid JSON{where}{path}.";
    }

    private static string BadRequestDetail(BadHttpRequestException bad) => bad.StatusCode switch
    {
        StatusCodes.Status415UnsupportedMediaType => "The request body must be JSON, sent with Content-Type: application/json.",
        _ when BindFailure().Match(bad.Message) is { Success: true } match => $"The value of '{match.Groups["name"].Value}' is not valid; check its type and format.",
        _ when bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) => "The request body is missing or could not be read.",
        _ => "The request is malformed.",
    };

    [System.Text.RegularExpressions.GeneratedRegex("^Failed to bind parameter \"[^ \"]+ (?<name>[^\"]+)\"")]
    private static partial System.Text.RegularExpressions.Regex BindFailure();
}
