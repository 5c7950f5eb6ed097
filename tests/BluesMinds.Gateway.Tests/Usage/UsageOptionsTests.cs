using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Tests.Usage;

public sealed class UsageOptionsTests
{
    private static readonly UsageOptionsValidator Validator = new();

    [Fact]
    public void Validate_Defaults_Succeed()
    {
        var options = new UsageOptions();

        Assert.True(Validator.Validate(null, options).Succeeded);
        Assert.Equal("usage-journal.jsonl", options.JournalPath);
        Assert.Equal(90, options.RetentionDays);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(36_500)]
    public void Validate_RetentionInRange_Succeeds(int days)
    {
        Assert.True(Validator.Validate(null, new UsageOptions { RetentionDays = days }).Succeeded);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(36_501)]
    [InlineData(int.MaxValue)]
    public void Validate_RetentionOutOfRange_Fails(int days)
    {
        var result = Validator.Validate(null, new UsageOptions { RetentionDays = days });

        Assert.True(result.Failed);
        Assert.Equal(["USAGE_RETENTION_DAYS must be between 0 (keep raw rows) and 36500."], result.Failures!);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\n")]
    [InlineData(null)]
    public void Validate_EmptyJournalPath_Fails(string? path)
    {
        var result = Validator.Validate(null, new UsageOptions { JournalPath = path! });

        Assert.True(result.Failed);
        Assert.Equal(["USAGE_JOURNAL_PATH must not be empty."], result.Failures!);
    }

    [Fact]
    public void Validate_BothWrong_ReportsBoth()
    {
        var result = Validator.Validate(null, new UsageOptions { JournalPath = " ", RetentionDays = -5 });

        Assert.Equal(2, result.Failures!.Count());
    }

    [Fact]
    public void ResolveJournalPath_RelativeIsUnderTheDataDirectoryAndAbsoluteIsKept()
    {
        var data = Path.Combine(Path.GetTempPath(), "bm-data");
        var elsewhere = Path.Combine(Path.GetTempPath(), "elsewhere", "journal.jsonl");

        Assert.Equal(Path.Combine(data, "usage-journal.jsonl"), new UsageOptions().ResolveJournalPath(data));
        Assert.Equal(Path.Combine(data, "journals", "a.jsonl"), new UsageOptions { JournalPath = Path.Combine("journals", "x", "..", "a.jsonl") }.ResolveJournalPath(data));
        Assert.Equal(elsewhere, new UsageOptions { JournalPath = elsewhere }.ResolveJournalPath(data));
    }
}
