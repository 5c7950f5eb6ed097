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

        var local = trimmed[..at].ToLowerInvariant();
        if (local.Length > 64 || local.StartsWith('.') || local.EndsWith('.') || local.Contains("..", StringComparison.Ordinal)
            || !local.All(c => char.IsAsciiLetterOrDigit(c) || LocalSpecials.Contains(c, StringComparison.Ordinal)))
        {
            problem = "email has characters that are not allowed before the @ (letters, digits and .!#$%&'*+/=?^_`{|}~- only).";
            return null;
        }

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
