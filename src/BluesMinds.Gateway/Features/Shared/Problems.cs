namespace BluesMinds.Gateway.Features.Shared;

/// <summary>ProblemDetails results used across features, with stable titles clients can rely on.</summary>
internal static class Problems
{
    public static IResult NotFound(string what) => TypedResults.Problem(title: "Not found", detail: $"{what} was not found.", statusCode: 404);

    public static IResult Conflict(string detail) => TypedResults.Problem(title: "Conflict", detail: detail, statusCode: 409);

    public static IResult Unauthorized(string detail) => TypedResults.Problem(title: "Unauthorized", detail: detail, statusCode: 401);

    public static IResult Forbidden(string detail) => TypedResults.Problem(title: "Forbidden", detail: detail, statusCode: 403);
}
