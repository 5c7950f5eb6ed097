using BluesMinds.Gateway.Features.Accounts;

namespace BluesMinds.Gateway.Tests.Features.Accounts;

public sealed class EmailAddressesTests
{
    [Theory]
    [InlineData("user@example.com", "user@example.com")]
    [InlineData("  User.Name+Tag@Example.COM  ", "user.name+tag@example.com")]
    [InlineData("\tuser@example.com\r\n", "user@example.com")]
    [InlineData("\u00A0user@example.com\u3000", "user@example.com")]
    [InlineData("first.last@sub.example.co.uk", "first.last@sub.example.co.uk")]
    [InlineData("a!#$%&'*+/=?^_`{|}~-z@example.com", "a!#$%&'*+/=?^_`{|}~-z@example.com")]
    [InlineData("user@bücher.de", "user@xn--bcher-kva.de")]
    [InlineData("user@xn--bcher-kva.de", "user@xn--bcher-kva.de")]
    [InlineData("USER@XN--BCHER-KVA.DE", "user@xn--bcher-kva.de")]
    [InlineData("user@例え.テスト", "user@xn--r8jz45g.xn--zckzah")]
    [InlineData("user@example\u3002com", "user@example.com")]
    [InlineData("user@\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25.com", "user@example.com")]
    [InlineData("user@exa\u200Bmple.com", "user@example.com")]
    [InlineData("user@exa\u00ADmple.com", "user@example.com")]
    public void Normalize_ValidAddress_ReturnsTrimmedLowerCaseAsciiForm(string input, string expected)
    {
        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Equal(expected, result);
        Assert.Null(problem);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\r\n")]
    public void Normalize_NullOrBlank_IsRequired(string? input)
    {
        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Null(result);
        Assert.Equal("email is required.", problem);
    }

    [Theory]
    [InlineData("userexample.com")]
    [InlineData("@example.com")]
    [InlineData("user@")]
    [InlineData("@")]
    [InlineData("a@b@example.com")]
    [InlineData("user@@example.com")]
    [InlineData("user\uFF20example.com")]
    public void Normalize_NotExactlyOneAtWithBothSides_IsRefused(string input)
    {
        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Null(result);
        Assert.NotNull(problem);
        Assert.StartsWith("email must be an address like", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(".user@example.com")]
    [InlineData("user.@example.com")]
    [InlineData("us..er@example.com")]
    [InlineData("us er@example.com")]
    [InlineData("user @example.com")]
    [InlineData("us\u00A0er@example.com")]
    [InlineData("us\ter@example.com")]
    [InlineData("\"user\"@example.com")]
    [InlineData("user(comment)@example.com")]
    [InlineData("user,name@example.com")]
    [InlineData("user;name@example.com")]
    [InlineData("user<x>@example.com")]
    [InlineData("user\\name@example.com")]
    [InlineData("üser@example.com")]
    [InlineData("ÜSER@example.com")]
    [InlineData("用户@example.com")]
    [InlineData("пользователь@example.com")]
    [InlineData("us\u200Ber@example.com")]
    [InlineData("us\u202Eer@example.com")]
    [InlineData("us\u0000er@example.com")]
    [InlineData("\uFF55ser@example.com")]
    [InlineData("user😀@example.com")]
    public void Normalize_BadLocalPart_IsRefused(string input)
    {
        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Null(result);
        Assert.NotNull(problem);
        Assert.StartsWith("email has characters that are not allowed before the @", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("user@localhost")]
    [InlineData("user@example")]
    [InlineData("user@example.com.")]
    [InlineData("user@.example.com")]
    [InlineData("user@example..com")]
    [InlineData("user@-example.com")]
    [InlineData("user@example-.com")]
    [InlineData("user@exa_mple.com")]
    [InlineData("user@exa mple.com")]
    [InlineData("user@[127.0.0.1]")]
    [InlineData("user@example.com/path")]
    [InlineData("user@example.com:25")]
    [InlineData("user@exa\u202Emple.com")]
    [InlineData("user@xn--zz.de")]
    public void Normalize_BadDomain_IsRefused(string input)
    {
        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Null(result);
        Assert.Equal("email has a domain that is not a valid host name.", problem);
    }

    [Fact]
    public void Normalize_LocalPartOf64Characters_IsAccepted()
    {
        var input = new string('a', 64) + "@example.com";

        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Equal(input, result);
        Assert.Null(problem);
    }

    [Fact]
    public void Normalize_LocalPartOf65Characters_IsRefused()
    {
        var result = EmailAddresses.Normalize(new string('a', 65) + "@example.com", out var problem);

        Assert.Null(result);
        Assert.Equal("email must have at most 64 characters before the @.", problem);
    }

    [Fact]
    public void Normalize_AddressOf254Characters_IsAccepted()
    {
        var input = AddressOfLength(254);

        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Equal(input, result);
        Assert.Equal(254, result!.Length);
        Assert.Null(problem);
    }

    [Fact]
    public void Normalize_AddressOf255Characters_IsRefused()
    {
        var result = EmailAddresses.Normalize(AddressOfLength(255), out var problem);

        Assert.Null(result);
        Assert.Equal("email must be at most 254 characters.", problem);
    }

    [Fact]
    public void Normalize_ShortUnicodeDomainThatBecomesTooLongAsPunycode_IsRefused()
    {
        // 245 characters as typed, but the IDN label grows from 48 to 58 characters when encoded, so the stored form is 255.
        var input = new string('a', 64) + "@" + new string('b', 63) + "." + new string('c', 63) + ".üöä" + new string('d', 45) + ".com";
        Assert.True(input.Length < 254);

        var result = EmailAddresses.Normalize(input, out var problem);

        Assert.Null(result);
        Assert.Equal("email must be at most 254 characters.", problem);
    }

    [Fact]
    public void Normalize_SameAddressTypedDifferently_GivesOneValue()
    {
        var first = EmailAddresses.Normalize("Jane.Doe@Bücher.de", out _);
        var second = EmailAddresses.Normalize("  jane.doe@xn--bcher-kva.DE ", out _);

        Assert.NotNull(first);
        Assert.Equal(first, second);
    }

    // Regression: under InvariantGlobalization, IdnMapping only Punycode-encodes and does not case-fold, so the
    // upper-case form of a non-ASCII domain became a different ASCII domain (xn--bcher-2pa.de).
    [Fact]
    public void Normalize_UpperCaseNonAsciiDomain_EqualsLowerCaseForm()
    {
        var result = EmailAddresses.Normalize("user@BÜCHER.DE", out var problem);

        Assert.Null(problem);
        Assert.Equal("user@xn--bcher-kva.de", result);
    }

    // Regression: under InvariantGlobalization the domain was not NFC-normalised before IDN conversion, so a
    // decomposed "ü" (u + U+0308, as some keyboards type it) gave a different ASCII domain from the composed one.
    [Fact]
    public void Normalize_DecomposedNonAsciiDomain_EqualsComposedForm()
    {
        var result = EmailAddresses.Normalize("user@bu\u0308cher.de", out var problem);

        Assert.Null(problem);
        Assert.Equal("user@xn--bcher-kva.de", result);
    }

    // U+212A KELVIN SIGN lower-cases to ASCII "k": the character check must run before lower-casing.
    [Fact]
    public void Normalize_KelvinSignInLocalPart_IsRefused()
    {
        var result = EmailAddresses.Normalize("\u212Aate@example.com", out var problem);

        Assert.Null(result);
        Assert.NotNull(problem);
        Assert.StartsWith("email has characters that are not allowed before the @", problem, StringComparison.Ordinal);
    }

    private static string AddressOfLength(int length)
    {
        // 64 + 1 + 63 + 1 + 63 + 1 + n + 4 = length
        var last = length - 64 - 1 - 63 - 1 - 63 - 1 - 4;
        return new string('a', 64) + "@" + new string('b', 63) + "." + new string('c', 63) + "." + new string('d', last) + ".com";
    }
}
