namespace BluesMinds.Gateway.Hosting.Http;

/// <summary>
/// Marks the gateway routes, which authenticate with API keys in their own first stage: the
/// session authentication and authorization middlewares are skipped for them altogether.
/// </summary>
internal sealed class ApiKeyEndpoint
{
    public static readonly ApiKeyEndpoint Instance = new();

    private ApiKeyEndpoint()
    {
    }

    public static bool Matches(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<ApiKeyEndpoint>() is not null;
}
