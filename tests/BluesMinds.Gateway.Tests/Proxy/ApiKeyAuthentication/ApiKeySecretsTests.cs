using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Tests.Proxy.ApiKeyAuthentication;

public sealed class ApiKeySecretsTests
{
    private const string Secret = "Bn6Tq1YpZ8cWm3Rv0Lk5Hs9Jd2Fx7Ga4Eu1Oi8Py";
    private const string OtherSecret = "Qm2Wn8Eb5Rv1Tc7Yx4Uz0Ia3Os9Pd6Lf2Kg5Jh8Hj";
    private const string Body = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg";
    private const string ValidKey = "bm_" + Body;
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static ApiKeySecrets Secrets(string secret) =>
        new(Options.Create(new SecurityOptions { ApiKeySecret = secret }));

    [Fact]
    public void Generate_Always_IsPrefixAnd43Base62Characters()
    {
        for (var i = 0; i < 200; i++)
        {
            var key = ApiKeySecrets.Generate();

            Assert.StartsWith("bm_", key, StringComparison.Ordinal);
            Assert.Equal(46, key.Length);
            Assert.All(key[3..], c => Assert.Contains(c, Base62));
        }
    }

    [Fact]
    public void Generate_ManyKeys_AreAllDifferent()
    {
        var keys = Enumerable.Range(0, 1000).Select(_ => ApiKeySecrets.Generate()).ToList();

        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Generate_ManyKeys_UseTheWholeBase62Alphabet()
    {
        // 200 keys are 8,600 random characters; the chance that one of 62 symbols never appears is negligible.
        var seen = new HashSet<char>(Enumerable.Range(0, 200).SelectMany(_ => ApiKeySecrets.Generate()[3..]));

        Assert.Equal(62, seen.Count);
    }

    [Fact]
    public void HasKeyShape_GeneratedKey_IsTrue()
    {
        for (var i = 0; i < 100; i++)
        {
            Assert.True(ApiKeySecrets.HasKeyShape(ApiKeySecrets.Generate()));
        }
    }

    [Fact]
    public void HasKeyShape_WellFormedKey_IsTrue()
    {
        Assert.True(ApiKeySecrets.HasKeyShape(ValidKey));
    }

    [Theory]
    [InlineData("")]
    [InlineData("bm_")]
    [InlineData(Body)]
    [InlineData("sk_" + Body)]
    [InlineData("BM_" + Body)]
    [InlineData("bm-" + Body)]
    [InlineData("bm" + Body + "h")]
    [InlineData(" bm_" + Body)]
    [InlineData("bm_" + Body + " ")]
    [InlineData("bm_" + Body + "h")]
    [InlineData("bm_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef")]
    [InlineData("sk-proj-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg")]
    public void HasKeyShape_WrongPrefixOrLength_IsFalse(string key)
    {
        Assert.False(ApiKeySecrets.HasKeyShape(key));
    }

    [Theory]
    [InlineData('-')]
    [InlineData('_')]
    [InlineData('+')]
    [InlineData('/')]
    [InlineData('=')]
    [InlineData(' ')]
    [InlineData('.')]
    [InlineData('\0')]
    [InlineData('é')]
    [InlineData('\u0663')]
    [InlineData('\uFF21')]
    [InlineData('\u200B')]
    public void HasKeyShape_NonAlphanumericCharacter_IsFalse(char bad)
    {
        var inMiddle = "bm_" + Body[..20] + bad + Body[21..];
        var atEnd = "bm_" + Body[..42] + bad;
        Assert.Equal(ApiKeySecrets.KeyLength, inMiddle.Length);
        Assert.Equal(ApiKeySecrets.KeyLength, atEnd.Length);

        Assert.False(ApiKeySecrets.HasKeyShape(inMiddle));
        Assert.False(ApiKeySecrets.HasKeyShape(atEnd));
    }

    [Fact]
    public void Hash_SameKeyAndSecret_IsDeterministicAnd32Bytes()
    {
        var key = ApiKeySecrets.Generate();

        var first = Secrets(Secret).Hash(key);
        var second = Secrets(Secret).Hash(key);

        Assert.Equal(32, first.Length);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Hash_DifferentApiKeySecret_Differs()
    {
        var key = ApiKeySecrets.Generate();

        Assert.NotEqual(Secrets(Secret).Hash(key), Secrets(OtherSecret).Hash(key));
    }

    [Fact]
    public void Hash_DifferentKeys_Differ()
    {
        var secrets = Secrets(Secret);

        Assert.NotEqual(secrets.Hash(ApiKeySecrets.Generate()), secrets.Hash(ApiKeySecrets.Generate()));
    }

    [Fact]
    public void Hash_Key_IsHmacSha256OfKeyUnderSecret()
    {
        var key = ApiKeySecrets.Generate();
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(Secret));
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(key));

        var actual = Secrets(Secret).Hash(key);

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Hash_KnownKey_IsHmacSha256OfKeyUnderSecret()
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(Secret));
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(ValidKey));

        Assert.Equal(expected, Secrets(Secret).Hash(ValidKey));
    }

    [Fact]
    public void Hash_SpanOverload_WritesSameBytesAsArrayOverload()
    {
        var secrets = Secrets(Secret);
        var key = ApiKeySecrets.Generate();
        var destination = new byte[32];

        secrets.Hash(key.AsSpan(), destination);

        Assert.Equal(secrets.Hash(key), destination);
    }

    [Fact]
    public void Hash_Result_DoesNotContainTheKey()
    {
        var key = ApiKeySecrets.Generate();

        var hash = Secrets(Secret).Hash(key);

        Assert.DoesNotContain(key[3..], Encoding.UTF8.GetString(hash), StringComparison.Ordinal);
        Assert.NotEqual(SHA256.HashData(Encoding.UTF8.GetBytes(key)), hash);
    }

    [Fact]
    public void DisplayPrefix_GeneratedKey_IsBmAndFirstFourCharacters()
    {
        var key = ApiKeySecrets.Generate();

        var prefix = ApiKeySecrets.DisplayPrefix(key);

        Assert.Equal(7, prefix.Length);
        Assert.Equal(key[..7], prefix);
        Assert.StartsWith("bm_", prefix, StringComparison.Ordinal);
    }

    [Fact]
    public void LastFour_GeneratedKey_IsLastFourCharacters()
    {
        var key = ApiKeySecrets.Generate();

        var lastFour = ApiKeySecrets.LastFour(key);

        Assert.Equal(4, lastFour.Length);
        Assert.Equal(key[^4..], lastFour);
    }

    [Fact]
    public void DisplayPrefixAndLastFour_Together_RevealOnlyEightOfTheRandomCharacters()
    {
        var middle = Body[4..^4];

        var shown = ApiKeySecrets.DisplayPrefix(ValidKey) + "…" + ApiKeySecrets.LastFour(ValidKey);

        Assert.Equal("bm_0123…defg", shown);
        Assert.Equal(35, middle.Length);
        Assert.DoesNotContain(middle, shown, StringComparison.Ordinal);
        Assert.DoesNotContain(middle[..1], shown[7..^4], StringComparison.Ordinal);
    }
}
