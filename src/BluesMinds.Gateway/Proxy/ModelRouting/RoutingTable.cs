using System.Collections.Frozen;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>One upstream as the hot path sees it: immutable, with its decrypted key.</summary>
internal sealed record UpstreamServer(
    Guid Id,
    string Name,
    Uri BaseUri,
    string? ApiKey,
    int Weight,
    int Priority,
    IReadOnlyList<string> SupportedModels,
    bool Enabled)
{
    // The two URLs every request goes to, built once: a new Uri per request was a string build and
    // a parse, and the handler then re-read its host and path from it.
    private readonly Endpoints _endpoints = new(BaseUri);

    /// <summary>The upstream URL for an OpenAI path such as <c>chat/completions</c>; a base ending in /v1 is not doubled.</summary>
    public Uri EndpointUri(string path) => !ReferenceEquals(_endpoints.Base, BaseUri) ? Build(BaseUri, path) : path switch
    {
        ChatCompletionsPath => _endpoints.ChatCompletions,
        EmbeddingsPath => _endpoints.Embeddings,
        _ => Build(BaseUri, path),
    };

    public const string ChatCompletionsPath = "chat/completions";
    public const string EmbeddingsPath = "embeddings";

    private static Uri Build(Uri baseUri, string path) =>
        new(baseUri.AbsolutePath.TrimEnd('/').EndsWith("/v1", StringComparison.Ordinal)
            ? $"{baseUri.ToString().TrimEnd('/')}/{path}"
            : $"{baseUri.ToString().TrimEnd('/')}/v1/{path}");

    private sealed record Endpoints(Uri Base)
    {
        public Uri ChatCompletions { get; } = Build(Base, ChatCompletionsPath);

        public Uri Embeddings { get; } = Build(Base, EmbeddingsPath);
    }

    /// <summary>The server root, for LiteLLM's own health route.</summary>
    public Uri RootUri(string path)
    {
        var root = BaseUri.ToString().TrimEnd('/');
        if (root.EndsWith("/v1", StringComparison.Ordinal))
        {
            root = root[..^3];
        }

        return new Uri($"{root}/{path}");
    }
}

/// <summary>
/// An immutable snapshot of the servers, indexed by model; replaced whole when the server list
/// changes, so the hot path reads it without locks.
/// </summary>
internal sealed class RoutingTable
{
    private readonly FrozenDictionary<string, UpstreamServer[]> _byModel;

    public RoutingTable(IReadOnlyList<UpstreamServer> servers)
    {
        Servers = servers;
        _byModel = servers
            .SelectMany(s => s.SupportedModels.Select(m => (Model: m, Server: s)))
            .GroupBy(p => p.Model, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(p => p.Server).OrderBy(s => s.Priority).ToArray(), StringComparer.Ordinal);
    }

    public IReadOnlyList<UpstreamServer> Servers { get; }

    /// <summary>Every server (enabled or not) that lists the model, lowest priority number first.</summary>
    public IReadOnlyList<UpstreamServer> ServersFor(string model) => _byModel.TryGetValue(model, out var servers) ? servers : [];
}
