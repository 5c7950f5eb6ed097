using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Tests.Hosting;

namespace BluesMinds.Gateway.Tests.Limits;

public sealed class RateLimitOptionsTests
{
    private static readonly RateLimitOptionsValidator Production = new(TestEnvironment.Production);
    private static readonly RateLimitOptionsValidator Development = new(TestEnvironment.Development);

    [Fact]
    public void Validate_Defaults_Succeed()
    {
        var options = new RateLimitOptions();

        Assert.True(Production.Validate(null, options).Succeeded);
        Assert.Equal(new[] { 60, 100_000, 10, 4_096 }, new[] { options.RequestsPerMinute, options.TokensPerMinute, options.ConcurrentRequests, options.DefaultMaxTokens });
        Assert.Equal("closed", options.RedisFailureMode);
        Assert.True(options.Enabled);
    }

    [Theory]
    [InlineData(0, 1, 1, 1)]
    [InlineData(1, 0, 1, 1)]
    [InlineData(1, 1, 0, 1)]
    [InlineData(1, 1, 1, 0)]
    [InlineData(-1, 1, 1, 1)]
    public void Validate_NonPositiveDefault_Fails(int rpm, int tpm, int concurrent, int maxTokens)
    {
        var result = Development.Validate(null, new RateLimitOptions { RequestsPerMinute = rpm, TokensPerMinute = tpm, ConcurrentRequests = concurrent, DefaultMaxTokens = maxTokens });

        Assert.True(result.Failed);
        Assert.Contains("must be positive", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("open", true)]
    [InlineData("closed", true)]
    [InlineData("Open", false)]
    [InlineData("", false)]
    [InlineData("fallback", false)]
    public void Validate_RedisFailureMode_IsOpenOrClosed(string mode, bool valid)
    {
        var result = Development.Validate(null, new RateLimitOptions { RedisFailureMode = mode });

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("RATE_LIMIT_REDIS_FAILURE_MODE", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_DisabledInProduction_Fails()
    {
        var options = new RateLimitOptions { Enabled = false };

        var production = Production.Validate(null, options);

        Assert.True(production.Failed);
        Assert.Contains("RATE_LIMIT_ENABLED=false", production.FailureMessage, StringComparison.Ordinal);
        Assert.True(Development.Validate(null, options).Succeeded);
    }
}
