using System.Globalization;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>
/// Normalises an email the same way everywhere (trim, lower-case, IDN domain to ASCII) so that one
/// address can only ever belong to one account.
/// </summary>
internal static class EmailAddresses
{
    private const int MaxLength = 254;
    private const string LocalSpecials = "!#$%&'*+/=?^_`{|}~.-";
    private static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true };

    /// <returns>The normalised address, or null with <paramref name="problem"/> set.</returns>
    public static string? Normalize(string? value, out string? problem)
    {
        problem = null;
        var trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            problem = "email is required.";
            return null;
        }

        var at = trimmed.LastIndexOf('@');
        if (at <= 0 || at == trimmed.Length - 1 || trimmed.IndexOf('@', StringComparison.Ordinal) != at)
        {
            problem = "email must be an address like name@example.com.";
            return null;
        }

        // Checked before lower-casing: some non-ASCII letters (the Kelvin sign) lower-case to ASCII ones.
        var original = trimmed[..at];
        if (original.Length > 64)
        {
            problem = "email must have at most 64 characters before the @.";
            return null;
        }

        if (original.StartsWith('.') || original.EndsWith('.') || original.Contains("..", StringComparison.Ordinal)
            || !original.All(c => char.IsAsciiLetterOrDigit(c) || LocalSpecials.Contains(c, StringComparison.Ordinal)))
        {
            problem = "email has characters that are not allowed before the @ (letters, digits and .!#$%&'*+/=?^_`{|}~- only).";
            return null;
        }

        var local = original.ToLowerInvariant();

        string domain;
        try
        {
            domain = Idn.GetAscii(trimmed[(at + 1)..]).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            problem = "email has a domain that is not a valid host name.";
            return null;
        }

        if (!domain.Contains('.', StringComparison.Ordinal) || domain.EndsWith('.'))
        {
            problem = "email has a domain that is not a valid host name.";
            return null;
        }

        var normalized = local + "@" + domain;
        if (normalized.Length > MaxLength)
        {
            problem = $"email must be at most {MaxLength} characters.";
            return null;
        }

        return normalized;
    }
}
