using BluesMinds.Gateway.Data.Entities;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// The <c>usage_daily</c> increments of one batch: per user, key, model and UTC day, the sums of the
/// rows the insert reported as new. Rows without a user or key (refused before the key was known)
/// have no rollup. One pass over the rows, since a batch holds hundreds of them.
/// </summary>
internal static class UsageRollup
{
    public readonly record struct Group(Guid UserId, Guid ApiKeyId, string Model, DateOnly Day);

    public sealed class Totals
    {
        public long Requests { get; set; }

        public long Errors { get; set; }

        public long PromptTokens { get; set; }

        public long CompletionTokens { get; set; }

        public long CachedTokens { get; set; }

        public long TotalTokens { get; set; }

        public long CostMicros { get; set; }
    }

    /// <summary>The increments of <paramref name="rows"/> whose request id is in <paramref name="inserted"/> (all of them when it is null).</summary>
    public static Dictionary<Group, Totals> Of(IReadOnlyList<UsageLog> rows, HashSet<string>? inserted)
    {
        var groups = new Dictionary<Group, Totals>();
        foreach (var row in rows)
        {
            if (row.UserId is not { } user || row.ApiKeyId is not { } key || inserted?.Contains(row.RequestId) == false)
            {
                continue;
            }

            var group = new Group(user, key, row.ModelRequested ?? string.Empty, DateOnly.FromDateTime(row.CreatedAt));
            if (!groups.TryGetValue(group, out var totals))
            {
                groups[group] = totals = new Totals();
            }

            totals.Requests++;
            totals.Errors += row.StatusCode >= 400 ? 1 : 0;
            totals.PromptTokens += row.PromptTokens;
            totals.CompletionTokens += row.CompletionTokens;
            totals.CachedTokens += row.CachedTokens;
            totals.TotalTokens += row.TotalTokens;
            totals.CostMicros += row.CostMicros;
        }

        return groups;
    }

    /// <summary>
    /// The upsert both providers run per group, its eleven values in the order of the columns
    /// (user, key, model, day, then the sums) written as <paramref name="parameter"/> gives them; the
    /// increments are added on the server, so replicas writing the same day never lose an update.
    /// </summary>
    public static string UpsertSql(Func<int, string> parameter) =>
        $"INSERT INTO usage_daily (user_id, api_key_id, model, day, requests, error_requests, prompt_tokens, completion_tokens, cached_tokens, total_tokens, cost_micros) VALUES ({string.Join(", ", Enumerable.Range(0, 11).Select(parameter))}) " +
        """
        ON CONFLICT (user_id, day, api_key_id, model) DO UPDATE SET
            requests = usage_daily.requests + excluded.requests,
            error_requests = usage_daily.error_requests + excluded.error_requests,
            prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
            cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens,
            total_tokens = usage_daily.total_tokens + excluded.total_tokens,
            cost_micros = usage_daily.cost_micros + excluded.cost_micros
        """;
}
