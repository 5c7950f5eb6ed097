using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Security</c>: secrets, admins, password hashing and browser origins.</summary>
internal sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary><c>JWT_SECRET</c>: signs session tokens.</summary>
    public string? JwtSecret { get; set; }

    /// <summary><c>API_KEY_SECRET</c>: the HMAC key under which API keys are hashed.</summary>
    public string? ApiKeySecret { get; set; }

    /// <summary><c>ENCRYPTION_KEY</c>: the key behind every encrypted column (upstream API keys).</summary>
    public string? EncryptionKey { get; set; }

    /// <summary><c>ADMIN_EMAILS</c>: comma-separated; those users get the admin role at login.</summary>
    public string? AdminEmails { get; set; }

    /// <summary><c>BCRYPT_ROUNDS</c>: work factor for password hashes, 10–14 in Production.</summary>
    public int BcryptRounds { get; set; } = 12;

    /// <summary><c>SESSION_LIFETIME_MINUTES</c>: how long a session token and its cookie live.</summary>
    public int SessionLifetimeMinutes { get; set; } = 60;

    /// <summary><c>CORS_ORIGINS</c>: comma-separated browser origins allowed to call the API.</summary>
    public string? CorsOrigins { get; set; }

    public IReadOnlyList<string> AdminEmailList() => SettingLists.Split(AdminEmails).Select(e => e.ToLowerInvariant()).ToArray();

    public IReadOnlyList<string> CorsOriginList() => SettingLists.Split(CorsOrigins);
}

internal sealed class SecurityOptionsValidator(IHostEnvironment environment) : IValidateOptions<SecurityOptions>
{
    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var problems = new List<string>();
        var production = environment.IsProduction();

        if (production)
        {
            AddIfProblem(problems, SecretStrength.Problem("JWT_SECRET", options.JwtSecret));
            AddIfProblem(problems, SecretStrength.Problem("API_KEY_SECRET", options.ApiKeySecret));
            AddIfProblem(problems, SecretStrength.Problem("ENCRYPTION_KEY", options.EncryptionKey));
        }
        else
        {
            // Outside Production the values may be short, but must exist (Development generates them).
            foreach (var (variable, value) in new[] { ("JWT_SECRET", options.JwtSecret), ("API_KEY_SECRET", options.ApiKeySecret), ("ENCRYPTION_KEY", options.EncryptionKey) })
            {
                if (string.IsNullOrWhiteSpace(value))
                {
                    problems.Add($"{variable} is not set.");
                }
            }
        }

        if (!string.IsNullOrEmpty(options.JwtSecret) && string.Equals(options.JwtSecret, options.ApiKeySecret, StringComparison.Ordinal))
        {
            problems.Add("JWT_SECRET and API_KEY_SECRET must be different secrets.");
        }

        var (minRounds, maxRounds) = production ? (10, 14) : (4, 31);
        if (options.BcryptRounds < minRounds || options.BcryptRounds > maxRounds)
        {
            problems.Add($"BCRYPT_ROUNDS must be between {minRounds} and {maxRounds}.");
        }

        if (options.SessionLifetimeMinutes is < 5 or > 7 * 24 * 60)
        {
            problems.Add("SESSION_LIFETIME_MINUTES must be between 5 and 10080 (a week).");
        }

        foreach (var origin in options.CorsOriginList())
        {
            if (origin == "*")
            {
                if (production)
                {
                    problems.Add("CORS_ORIGINS must list origins explicitly; '*' is refused in Production.");
                }
            }
            else if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
            {
                problems.Add($"CORS_ORIGINS has an entry that is not an origin like https://app.example.com: '{origin}'.");
            }
        }

        foreach (var email in options.AdminEmailList())
        {
            if (email.IndexOf('@', StringComparison.Ordinal) is <= 0 || email.EndsWith('@'))
            {
                problems.Add($"ADMIN_EMAILS has an entry that is not an email address: '{email}'.");
            }
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void AddIfProblem(List<string> problems, string? problem)
    {
        if (problem is not null)
        {
            problems.Add(problem);
        }
    }
}
