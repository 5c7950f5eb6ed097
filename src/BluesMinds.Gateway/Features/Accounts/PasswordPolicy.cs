using System.Text;
using BluesMinds.Gateway.Features.Shared;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>
/// The password rules, each named in its error: at least 8 characters, at most 72 bytes (bcrypt
/// ignores the rest, so longer would be silently weaker), not a common password, not the email address.
/// </summary>
internal static class PasswordPolicy
{
    public const int MinLength = 8;
    public const int MaxBytes = 72;

    // The most common passwords of 8+ characters in public breach corpora; compared case-insensitively.
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "password", "password1", "password12", "password123", "password1234", "passw0rd", "p@ssw0rd", "p@ssword",
        "12345678", "123456789", "1234567890", "12341234", "11111111", "00000000", "88888888", "87654321",
        "123123123", "1q2w3e4r", "1q2w3e4r5t", "qwertyuiop", "qwerty123", "qwerty12", "qwerty1234", "1qaz2wsx",
        "zaq12wsx", "asdfghjkl", "asdf1234", "abc12345", "abcd1234", "abcdefgh", "iloveyou", "iloveyou1",
        "sunshine", "sunshine1", "princess", "princess1", "football", "football1", "baseball", "baseball1",
        "welcome1", "welcome123", "letmein1", "letmein123", "trustno1", "superman", "superman1", "starwars",
        "whatever", "freedom1", "computer", "internet", "michelle", "jennifer", "charlie1", "master123",
        "dragon123", "monkey123", "shadow123", "admin123", "admin1234", "administrator", "changeme", "changeme1",
        "test1234", "testtest", "test12345", "qazwsxedc", "1234qwer", "q1w2e3r4", "q1w2e3r4t5", "aa123456",
        "a1234567", "a12345678", "zxcvbnm1", "zxcvbnm123", "987654321", "123qweasd", "qweasdzxc", "mypassword",
        "secret123", "default1", "login123", "blink182", "pokemon1", "liverpool", "chelsea1", "arsenal1",
    };

    /// <returns>Null when acceptable, otherwise the rule the password breaks.</returns>
    public static string? Problem(string? password, string? email, string field = "password")
    {
        if (string.IsNullOrEmpty(password))
        {
            return $"{field} is required.";
        }

        if (!TextInput.IsValidUnicode(password) || password.Any(char.IsControl))
        {
            return $"{field} contains invalid or control characters.";
        }

        if (password.EnumerateRunes().Count() < MinLength)
        {
            return $"{field} must be at least {MinLength} characters long.";
        }

        if (Encoding.UTF8.GetByteCount(password) > MaxBytes)
        {
            return $"{field} must be at most {MaxBytes} bytes long (about {MaxBytes} letters, fewer with accents or emoji).";
        }

        if (Common.Contains(password) || password.EnumerateRunes().Distinct().Count() < 3)
        {
            return $"{field} is too common; choose one that is not on lists of leaked passwords.";
        }

        if (email is not null && (password.Equals(email, StringComparison.OrdinalIgnoreCase) || password.Equals(email.Split('@')[0], StringComparison.OrdinalIgnoreCase)))
        {
            return $"{field} must not be your email address.";
        }

        return null;
    }
}
