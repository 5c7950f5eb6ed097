using System.Text;
using BluesMinds.Gateway.Features.Accounts;

namespace BluesMinds.Gateway.Tests.Features.Accounts;

public sealed class PasswordPolicyTests
{
    private const string Email = "test@example.com";

    [Fact]
    public void Problem_ChecklistPasswordForTestAccount_IsAccepted()
    {
        Assert.Null(PasswordPolicy.Problem("Test123!", "test@example.com"));
    }

    [Theory]
    [InlineData("Ab1!xyzq")]
    [InlineData("correct horse battery staple")]
    [InlineData("Tr0ub4dor&3")]
    [InlineData("abcabcab")]
    [InlineData("Пароль-Секрет-42")]
    [InlineData("ÄÖÜäöüß1")]
    [InlineData("密码很安全的一句话")]
    [InlineData("😀😁😂🤣😃😄😅😆")]
    [InlineData("pass word with spaces")]
    public void Problem_ReasonablePassword_IsAccepted(string password)
    {
        Assert.Null(PasswordPolicy.Problem(password, Email));
    }

    [Fact]
    public void Problem_NullEmail_SkipsEmailRule()
    {
        Assert.Null(PasswordPolicy.Problem("Test123!", null));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Problem_NullOrEmpty_IsRequired(string? password)
    {
        Assert.Equal("password is required.", PasswordPolicy.Problem(password, Email));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("Ab1!xyz")]
    [InlineData("Ünïcöd")]
    [InlineData("😀😁😂🤣😃😄😅")]
    public void Problem_FewerThanEightCharacters_IsTooShort(string password)
    {
        Assert.Equal("password must be at least 8 characters long.", PasswordPolicy.Problem(password, Email));
    }

    [Fact]
    public void Problem_SevenEmoji_AreCountedAsSevenCharactersNotFourteen()
    {
        var password = "😀😁😂🤣😃😄😅";
        Assert.Equal(14, password.Length);

        var problem = PasswordPolicy.Problem(password, Email);

        Assert.NotNull(problem);
        Assert.Contains("at least 8 characters", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_Exactly72Bytes_IsAccepted()
    {
        var password = Varied(72);

        Assert.Null(PasswordPolicy.Problem(password, Email));
    }

    [Fact]
    public void Problem_73Bytes_IsTooLong()
    {
        var problem = PasswordPolicy.Problem(Varied(73), Email);

        Assert.NotNull(problem);
        Assert.StartsWith("password must be at most 72 bytes long", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_MultiByteCharactersOver72Bytes_IsTooLongThoughFewerThan72Characters()
    {
        var password = string.Concat(Enumerable.Repeat("éèêë", 10)); // 40 characters, 80 bytes
        Assert.Equal(80, Encoding.UTF8.GetByteCount(password));

        var problem = PasswordPolicy.Problem(password, Email);

        Assert.NotNull(problem);
        Assert.StartsWith("password must be at most 72 bytes long", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_EighteenDistinctEmoji_Are72BytesAndAccepted()
    {
        var password = Emoji(18);

        Assert.Null(PasswordPolicy.Problem(password, Email));
    }

    [Fact]
    public void Problem_NineteenDistinctEmoji_Are76BytesAndTooLong()
    {
        var problem = PasswordPolicy.Problem(Emoji(19), Email);

        Assert.NotNull(problem);
        Assert.StartsWith("password must be at most 72 bytes long", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("password")]
    [InlineData("Password123")]
    [InlineData("PASSWORD123")]
    [InlineData("p@ssw0rd")]
    [InlineData("P@SSW0RD")]
    [InlineData("12345678")]
    [InlineData("Qwertyuiop")]
    [InlineData("iloveyou")]
    [InlineData("changeme")]
    [InlineData("Administrator")]
    public void Problem_CommonPassword_IsRefusedCaseInsensitively(string password)
    {
        Assert.Equal(
            "password is too common; choose one that is not on lists of leaked passwords.",
            PasswordPolicy.Problem(password, Email));
    }

    [Theory]
    [InlineData("aaaaaaaa")]
    [InlineData("abababababab")]
    [InlineData("        ")]
    [InlineData("ZZZZZZZZZZZZZZZZZZZZ")]
    [InlineData("😀😀😀😀😀😀😀😀")]
    public void Problem_FewerThanThreeDistinctCharacters_IsRefused(string password)
    {
        var problem = PasswordPolicy.Problem(password, Email);

        Assert.NotNull(problem);
        Assert.Contains("too common", problem, StringComparison.Ordinal);
    }

    // Distinct characters are counted in runes: two emoji sharing a high surrogate are two characters, not three.
    [Fact]
    public void Problem_TwoDistinctEmojiRepeated_IsRefused()
    {
        var problem = PasswordPolicy.Problem("😀😁😀😁😀😁😀😁", Email);

        Assert.NotNull(problem);
        Assert.Contains("too common", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice.smith@example.com", "alice.smith@example.com")]
    [InlineData("Alice.Smith@Example.COM", "alice.smith@example.com")]
    [InlineData("alicesmith", "alicesmith@example.com")]
    [InlineData("AliceSmith", "alicesmith@example.com")]
    public void Problem_EqualToEmailOrItsLocalPart_IsRefused(string password, string email)
    {
        Assert.Equal("password must not be your email address.", PasswordPolicy.Problem(password, email));
    }

    [Fact]
    public void Problem_ContainingButNotEqualToLocalPart_IsAccepted()
    {
        Assert.Null(PasswordPolicy.Problem("alicesmith-2024!", "alicesmith@example.com"));
    }

    [Theory]
    [InlineData("abcdefgh\u0007")]
    [InlineData("abcd\u0000efgh")]
    [InlineData("abcdefgh\n")]
    [InlineData("\tabcdefgh")]
    [InlineData("abcd\u007Fefgh")]
    [InlineData("abcd\u0085efgh")]
    public void Problem_ControlCharacter_IsRefused(string password)
    {
        Assert.Equal("password contains invalid or control characters.", PasswordPolicy.Problem(password, Email));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Problem_LoneSurrogate_IsRefused(int sample)
    {
        string[] samples =
        [
            "abcdefgh\uD83D",
            "\uDE00abcdefgh",
            "abcd\uD83Defgh",
            "abcdefgh\uDE00\uD83D",
        ];

        Assert.Equal("password contains invalid or control characters.", PasswordPolicy.Problem(samples[sample], Email));
    }

    [Theory]
    [InlineData(null, "new_password is required.")]
    [InlineData("short", "new_password must be at least 8 characters long.")]
    [InlineData("Password123", "new_password is too common; choose one that is not on lists of leaked passwords.")]
    [InlineData("test@example.com", "new_password must not be your email address.")]
    [InlineData("abcdefgh\u0007", "new_password contains invalid or control characters.")]
    public void Problem_CustomField_NamesThatField(string? password, string expected)
    {
        Assert.Equal(expected, PasswordPolicy.Problem(password, Email, "new_password"));
    }

    private static string Varied(int length)
    {
        const string Pattern = "Kq7!xR2#mW9$vT4%";
        var builder = new StringBuilder(length);
        while (builder.Length < length)
        {
            builder.Append(Pattern[builder.Length % Pattern.Length]);
        }

        return builder.ToString();
    }

    private static string Emoji(int count) =>
        string.Concat(Enumerable.Range(0, count).Select(i => char.ConvertFromUtf32(0x1F600 + i)));
}
