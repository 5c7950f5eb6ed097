using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Usage</c>: where usage records wait while the database is away, and how long raw rows are kept.</summary>
internal sealed class UsageOptions
{
    public const string Section = "Usage";

    /// <summary>
    /// <c>USAGE_JOURNAL_PATH</c>: the append-only journal file; relative paths are under the data
    /// directory. Each instance needs its own file on storage that survives a restart.
    /// </summary>
    public string JournalPath { get; set; } = "usage-journal.jsonl";

    /// <summary><c>USAGE_RETENTION_DAYS</c>: raw <c>usage_logs</c> rows older than this are deleted; 0 keeps them. Daily rollups are kept.</summary>
    public int RetentionDays { get; set; } = 90;

    public string ResolveJournalPath(string dataDirectory) => Path.GetFullPath(JournalPath, dataDirectory);
}

internal sealed class UsageOptionsValidator : IValidateOptions<UsageOptions>
{
    public ValidateOptionsResult Validate(string? name, UsageOptions options)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(options.JournalPath))
        {
            problems.Add("USAGE_JOURNAL_PATH must not be empty.");
        }

        if (options.RetentionDays is < 0 or > 36_500)
        {
            problems.Add("USAGE_RETENTION_DAYS must be between 0 (keep raw rows) and 36500.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
