using System.Collections.Concurrent;

namespace BluesMinds.Gateway.Proxy.ModelRouting;

/// <summary>Health per server id; outlives routing-table reloads so circuits are not reset by an edit.</summary>
internal sealed class UpstreamHealthRegistry
{
    private readonly ConcurrentDictionary<Guid, ServerHealth> _servers = new();

    public ServerHealth For(Guid serverId) => _servers.GetOrAdd(serverId, static _ => new ServerHealth());

    /// <summary>Forgets servers that no longer exist.</summary>
    public void Retain(IEnumerable<Guid> serverIds)
    {
        var keep = serverIds.ToHashSet();
        foreach (var id in _servers.Keys)
        {
            if (!keep.Contains(id))
            {
                _servers.TryRemove(id, out _);
            }
        }
    }
}
