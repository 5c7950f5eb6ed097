using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.Features.Shared;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Features.Usage;

/// <summary>Reads of the daily rollups shared by the user's and the admin's usage pages; never raw rows.</summary>
internal static class UsageQueries
{
    public const int MaxDays = 366;

    /// <summary>Validates <c>from</c>/<c>to</c> (inclusive days, defaulting to this month) and <c>group_by</c>.</summary>
    public static (DateOnly From, DateOnly To) Range(DateOnly? from, DateOnly? to, string? groupBy, IReadOnlyCollection<string> groupings, DateTimeOffset now, Validation validation)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var start = from ?? new DateOnly(today.Year, today.Month, 1);
        var end = to ?? today;
        if (start > end)
        {
            validation.Add("from", "from must not be after to.");
        }
        else if (end.DayNumber - start.DayNumber >= MaxDays)
        {
            validation.Add("to", $"The range may span at most {MaxDays} days.");
        }

        if (groupBy is not null && !groupings.Contains(groupBy))
        {
            validation.Add("group_by", $"group_by must be one of: {string.Join(", ", groupings)}.");
        }

        return (start, end);
    }

    public static async Task<(UsageTotals Totals, List<UsageGroup> Groups)> AggregateAsync(
        IQueryable<UsageDaily> rows, string groupBy, CancellationToken cancellationToken)
    {
        var groups = groupBy switch
        {
            "model" => await rows.GroupBy(r => r.Model)
                .Select(g => new UsageGroup(null, g.Key, null, null, null, null, g.Sum(r => r.Requests), g.Sum(r => r.ErrorRequests), g.Sum(r => r.PromptTokens), g.Sum(r => r.CompletionTokens), g.Sum(r => r.CachedTokens), g.Sum(r => r.TotalTokens), g.Sum(r => r.CostMicros)))
                .ToListAsync(cancellationToken),
            "key" => await rows.GroupBy(r => r.ApiKeyId)
                .Select(g => new UsageGroup(null, null, g.Key, null, null, null, g.Sum(r => r.Requests), g.Sum(r => r.ErrorRequests), g.Sum(r => r.PromptTokens), g.Sum(r => r.CompletionTokens), g.Sum(r => r.CachedTokens), g.Sum(r => r.TotalTokens), g.Sum(r => r.CostMicros)))
                .ToListAsync(cancellationToken),
            "user" => await rows.GroupBy(r => r.UserId)
                .Select(g => new UsageGroup(null, null, null, null, g.Key, null, g.Sum(r => r.Requests), g.Sum(r => r.ErrorRequests), g.Sum(r => r.PromptTokens), g.Sum(r => r.CompletionTokens), g.Sum(r => r.CachedTokens), g.Sum(r => r.TotalTokens), g.Sum(r => r.CostMicros)))
                .ToListAsync(cancellationToken),
            _ => await rows.GroupBy(r => r.Day)
                .Select(g => new UsageGroup(g.Key, null, null, null, null, null, g.Sum(r => r.Requests), g.Sum(r => r.ErrorRequests), g.Sum(r => r.PromptTokens), g.Sum(r => r.CompletionTokens), g.Sum(r => r.CachedTokens), g.Sum(r => r.TotalTokens), g.Sum(r => r.CostMicros)))
                .ToListAsync(cancellationToken),
        };

        var totals = new UsageTotals(
            groups.Sum(g => g.Requests), groups.Sum(g => g.ErrorRequests), groups.Sum(g => g.PromptTokens), groups.Sum(g => g.CompletionTokens),
            groups.Sum(g => g.CachedTokens), groups.Sum(g => g.TotalTokens), groups.Sum(g => g.CostMicros));
        return (totals, groups);
    }
}
