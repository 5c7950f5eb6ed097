namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Judges a secret without ever putting its value into a message.</summary>
internal static class SecretStrength
{
    public const int MinimumLength = 32;

    // Fragments of the placeholders found in sample .env files; long enough never to occur by chance in a random secret.
    private static readonly string[] WeakFragments =
    [
        "changeme", "change-me", "change_me", "changethis", "change-this", "change_this", "your-secret", "your_secret",
        "yoursecret", "your-jwt", "your-api", "example", "placeholder", "replaceme", "replace-me", "replace_me",
        "supersecret", "super-secret", "super_secret", "password", "secretkey", "secret-key", "secret_key",
        "development", "insecure", "dummy", "1234567890", "abcdefghij", "qwertyuiop",
    ];

    /// <summary>Null when the value is acceptable, otherwise the problem, naming <paramref name="variable"/> only.</summary>
    public static string? Problem(string variable, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return $"{variable} is not set.";
        }

        if (value.Length < MinimumLength)
        {
            return $"{variable} is shorter than {MinimumLength} characters.";
        }

        if (WeakFragments.Any(f => value.Contains(f, StringComparison.OrdinalIgnoreCase)) || value.Distinct().Count() < 10)
        {
            return $"{variable} is a known weak or placeholder value; generate one with `openssl rand -base64 48`.";
        }

        return null;
    }
}
