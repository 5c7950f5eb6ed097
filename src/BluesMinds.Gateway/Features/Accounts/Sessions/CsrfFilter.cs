namespace BluesMinds.Gateway.Features.Accounts.Sessions;

/// <summary>
/// Cookie-authenticated requests that change state must echo the session's CSRF token in
/// <c>X-CSRF-Token</c>; a browser on another site can send the cookie but cannot read the token.
/// Bearer requests carry their credential explicitly and need no token.
/// </summary>
internal sealed class CsrfFilter(SessionTokens tokens) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method) || HttpMethods.IsOptions(http.Request.Method)
            || http.User.Identity?.IsAuthenticated != true)
        {
            return await next(context);
        }

        var session = CurrentSession.From(http);
        if (session.ViaCookie && !tokens.IsValidCsrfToken(session.SessionId, http.Request.Headers[SessionTokens.CsrfHeaderName]))
        {
            return TypedResults.Problem(
                title: "CSRF token missing or invalid",
                detail: $"Requests authenticated by cookie must send the {SessionTokens.CsrfHeaderName} header with the value of the {SessionTokens.CsrfCookieName} cookie.",
                statusCode: StatusCodes.Status403Forbidden);
        }

        return await next(context);
    }
}
