using BluesMinds.Gateway.Features.Shared;

namespace BluesMinds.Gateway.Tests.Features;

public sealed class TextInputTests
{
    private const string Field = "name";

    [Theory]
    [InlineData("My key", "My key")]
    [InlineData("  My key \t\r\n", "My key")]
    [InlineData("\u00A0My key\u3000", "My key")]
    [InlineData("a\u00A0b", "a\u00A0b")]
    [InlineData("Ünïcödé ключ 鍵 🔑", "Ünïcödé ключ 鍵 🔑")]
    [InlineData("مفتاح الإنتاج", "مفتاح الإنتاج")]
    [InlineData("O'Brien & <Co> \"quoted\"", "O'Brien & <Co> \"quoted\"")]
    public void Clean_ValidText_ReturnsItTrimmed(string input, string expected)
    {
        var result = TextInput.Clean(input, Field, 100, out var problem);

        Assert.Equal(expected, result);
        Assert.Null(problem);
    }

    [Fact]
    public void Clean_DecomposedText_IsNormalisedToNfc()
    {
        var result = TextInput.Clean("Cafe\u0301", Field, 100, out var problem);

        Assert.Equal("Caf\u00E9", result);
        Assert.Null(problem);
    }

    [Fact]
    public void Clean_DecomposedTextAtLimit_IsMeasuredAfterNormalisation()
    {
        var result = TextInput.Clean("e\u0301", Field, 1, out var problem);

        Assert.Equal("\u00E9", result);
        Assert.Null(problem);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\r\n")]
    public void Clean_NullOrWhitespaceWhenRequired_IsRequired(string? input)
    {
        var result = TextInput.Clean(input, Field, 100, out var problem);

        Assert.Null(result);
        Assert.Equal("name is required.", problem);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Clean_NullOrWhitespaceWhenOptional_ReturnsNullWithoutProblem(string? input)
    {
        var result = TextInput.Clean(input, Field, 100, out var problem, required: false);

        Assert.Null(result);
        Assert.Null(problem);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Clean_LoneSurrogate_IsInvalidUnicode(int sample)
    {
        string[] samples =
        [
            "abc\uD83D",
            "\uDE00abc",
            "ab\uD83Dcd",
            "ab\uDE00\uD83Dcd",
            "\uD800",
        ];

        var result = TextInput.Clean(samples[sample], Field, 100, out var problem);

        Assert.Null(result);
        Assert.Equal("name contains invalid Unicode.", problem);
    }

    [Fact]
    public void Clean_LoneSurrogateWhenOptional_IsStillRefused()
    {
        var result = TextInput.Clean("abc\uD83D", Field, 100, out var problem, required: false);

        Assert.Null(result);
        Assert.Equal("name contains invalid Unicode.", problem);
    }

    [Theory]
    [InlineData("a\u0000b")]
    [InlineData("name\u0000")]
    [InlineData("a\u0007b")]
    [InlineData("a\u001Bb")]
    [InlineData("a\u007Fb")]
    [InlineData("line\nbreak")]
    [InlineData("tab\tinside")]
    [InlineData("admin\u202Etxt.exe")]
    [InlineData("a\u202Db")]
    [InlineData("a\u2066b\u2069")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("a\u200Db")]
    [InlineData("\uFEFFname")]
    [InlineData("soft\u00ADhyphen")]
    [InlineData("a\u2028b")]
    [InlineData("a\u2029b")]
    [InlineData("a\uE000b")]
    [InlineData("a\u0378b")]
    [InlineData("\u200B")]
    public void Clean_ControlOrInvisibleFormattingCharacter_IsRefused(string input)
    {
        var result = TextInput.Clean(input, Field, 100, out var problem);

        Assert.Null(result);
        Assert.Equal("name contains control or invisible formatting characters.", problem);
    }

    [Fact]
    public void Clean_FormattingCharacterWhenOptional_IsStillRefused()
    {
        var result = TextInput.Clean("a\u202Eb", Field, 100, out var problem, required: false);

        Assert.Null(result);
        Assert.Equal("name contains control or invisible formatting characters.", problem);
    }

    [Fact]
    public void Clean_AtMaxLength_IsAccepted()
    {
        var result = TextInput.Clean("abcde", Field, 5, out var problem);

        Assert.Equal("abcde", result);
        Assert.Null(problem);
    }

    [Fact]
    public void Clean_OverMaxLength_IsRefused()
    {
        var result = TextInput.Clean("abcdef", Field, 5, out var problem);

        Assert.Null(result);
        Assert.Equal("name must be at most 5 characters.", problem);
    }

    [Fact]
    public void Clean_SurroundingWhitespace_DoesNotCountTowardsMaxLength()
    {
        var result = TextInput.Clean("   abcde   ", Field, 5, out var problem);

        Assert.Equal("abcde", result);
        Assert.Null(problem);
    }

    [Fact]
    public void Clean_CustomField_IsNamedInProblem()
    {
        TextInput.Clean(null, "description", 10, out var problem);

        Assert.Equal("description is required.", problem);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(5, false)]
    public void IsValidUnicode_Sample_RequiresEverySurrogateToBePaired(int sample, bool expected)
    {
        string[] samples = ["plain", "\uD83D\uDE00", "", "\uD83D", "\uDE00", "\uDE00\uD83D"];

        Assert.Equal(expected, TextInput.IsValidUnicode(samples[sample]));
    }
}
