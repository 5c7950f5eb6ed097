using System.Security.Cryptography;
using BluesMinds.Gateway.Hosting.Settings;

namespace BluesMinds.Gateway.Tests.Hosting;

public sealed class SecretStrengthTests
{
    [Theory]
    [InlineData(null, "is not set")]
    [InlineData("", "is not set")]
    [InlineData("   ", "is not set")]
    [InlineData("short-but-random-Zq8", "shorter than 32")]
    [InlineData("your-super-secret-jwt-key-change-this-in-production", "weak")]
    [InlineData("changeme-changeme-changeme-changeme-42", "weak")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "weak")]
    [InlineData("abababababababababababababababababababab", "weak")]
    [InlineData("0123456789012345678901234567890123456789", "weak")]
    [InlineData("Password_Password_Password_Password_123", "weak")]
    public void Problem_WeakValue_NamesVariableAndRuleButNotValue(string? value, string expected)
    {
        var problem = SecretStrength.Problem("JWT_SECRET", value);

        Assert.NotNull(problem);
        Assert.StartsWith("JWT_SECRET ", problem, StringComparison.Ordinal);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        if (!string.IsNullOrWhiteSpace(value))
        {
            Assert.DoesNotContain(value, problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Problem_RandomSecrets_AreAccepted()
    {
        for (var i = 0; i < 500; i++)
        {
            Assert.Null(SecretStrength.Problem("JWT_SECRET", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))));
            Assert.Null(SecretStrength.Problem("API_KEY_SECRET", Convert.ToHexString(RandomNumberGenerator.GetBytes(24))));
        }
    }
}
