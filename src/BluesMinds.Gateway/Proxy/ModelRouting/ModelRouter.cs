using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>Why no candidate came back for a model.</summary>
internal enum RouteOutcome
{
    Routed,

    /// <summary>No server lists the model at all (404).</summary>
    UnknownModel,

    /// <summary>Servers list it, but none is enabled and healthy right now (503).</summary>
    NoAvailableServer,
}

/// <summary>
/// Orders the servers that may take a request: enabled, healthy, circuit closed (or due a probe),
/// listing the model; lowest priority number first, weighted random order within one priority.
/// </summary>
internal sealed class ModelRouter(UpstreamHealthRegistry health, IOptions<UpstreamOptions> options, TimeProvider time)
{
    public IReadOnlyDictionary<string, string> Aliases => options.Value.Aliases;

    public string ResolveAlias(string model) => options.Value.Aliases.TryGetValue(model, out var target) ? target : model;

    public RouteOutcome Candidates(RoutingTable table, string model, List<UpstreamServer> into)
    {
        var listed = table.ServersFor(model);
        if (listed.Count == 0)
        {
            return RouteOutcome.UnknownModel;
        }

        var now = time.GetUtcNow();
        var index = 0;
        while (index < listed.Count)
        {
            var priority = listed[index].Priority;
            var groupStart = into.Count;
            for (; index < listed.Count && listed[index].Priority == priority; index++)
            {
                var server = listed[index];
                if (server.Enabled && server.Weight > 0 && health.For(server.Id).IsAvailable(now))
                {
                    into.Add(server);
                }
            }

            ShuffleByWeight(into, groupStart);
        }

        return into.Count == 0 ? RouteOutcome.NoAvailableServer : RouteOutcome.Routed;
    }

    /// <summary>Weighted sampling without replacement over <c>list[start..]</c>.</summary>
    private static void ShuffleByWeight(List<UpstreamServer> list, int start)
    {
        for (var position = start; position < list.Count - 1; position++)
        {
            long total = 0;
            for (var i = position; i < list.Count; i++)
            {
                total += list[i].Weight;
            }

            var pick = Random.Shared.NextInt64(total);
            for (var i = position; i < list.Count; i++)
            {
                pick -= list[i].Weight;
                if (pick < 0)
                {
                    (list[position], list[i]) = (list[i], list[position]);
                    break;
                }
            }
        }
    }
}
