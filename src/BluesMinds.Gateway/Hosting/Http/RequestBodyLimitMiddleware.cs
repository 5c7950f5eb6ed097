using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Refuses a declared body over <c>MAX_REQUEST_BODY_BYTES</c> with 413 before a byte is read; a chunked
/// body that grows past the limit is stopped by Kestrel's own limit, set to the same value.
/// Endpoints marked <see cref="BodyLimitCheckedByEndpoint"/> check it themselves (the gateway routes,
/// after key auth, so that their 413 carries the rate-limit headers and leaves a usage record).
/// </summary>
internal sealed class RequestBodyLimitMiddleware(RequestDelegate next, IOptions<AppOptions> options)
{
    private readonly long _limit = options.Value.MaxRequestBodyBytes;

    public Task InvokeAsync(HttpContext context)
    {
        return context.Request.ContentLength > _limit && context.GetEndpoint()?.Metadata.GetMetadata<BodyLimitCheckedByEndpoint>() is null
            ? ApiErrors.WriteAsync(
                context,
                StatusCodes.Status413PayloadTooLarge,
                "Request body too large",
                $"The request body is larger than the limit of {_limit} bytes.",
                "request_too_large")
            : next(context);
    }
}

/// <summary>Endpoint metadata: this endpoint enforces <c>MAX_REQUEST_BODY_BYTES</c> on declared bodies itself.</summary>
internal sealed class BodyLimitCheckedByEndpoint;
