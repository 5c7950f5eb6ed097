using System.Security.Cryptography;
using System.Text.Json;

namespace BluesMinds.Gateway.Hosting.Configuration;

/// <summary>What <see cref="DevelopmentSecrets.Apply"/> did, reported in one log line after start-up.</summary>
internal enum DevelopmentSecretsOutcome
{
    NotApplicable,
    AllConfigured,
    Generated,
    Reused,
}

/// <summary>
/// Lets a fresh clone start with no configuration: in Development only, missing secrets are generated
/// once and kept in a git-ignored file under the data directory, so sessions and keys survive restarts.
/// </summary>
internal static class DevelopmentSecrets
{
    public const string FileName = "dev-secrets.json";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly string[] Keys = ["Security:JwtSecret", "Security:ApiKeySecret", "Security:EncryptionKey"];

    public static string FilePath(IConfiguration configuration, string contentRoot) =>
        Path.Combine(Settings.AppOptions.ResolveDataDirectory(configuration["App:DataDirectory"], contentRoot), FileName);

    public static DevelopmentSecretsOutcome Apply(ConfigurationManager configuration, string contentRoot)
    {
        var missing = Keys.Where(k => string.IsNullOrEmpty(configuration[k])).ToList();
        if (missing.Count == 0)
        {
            return DevelopmentSecretsOutcome.AllConfigured;
        }

        var path = FilePath(configuration, contentRoot);
        var stored = Read(path);
        var generated = false;
        foreach (var key in missing)
        {
            if (!stored.TryGetValue(key, out var value) || string.IsNullOrEmpty(value))
            {
                stored[key] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
                generated = true;
            }
        }

        if (generated)
        {
            Write(path, stored);
        }

        configuration.AddInMemoryCollection(missing.Select(k => new KeyValuePair<string, string?>(k, stored[k])));
        return generated ? DevelopmentSecretsOutcome.Generated : DevelopmentSecretsOutcome.Reused;
    }

    private static Dictionary<string, string> Read(string path)
    {
        if (!File.Exists(path))
        {
            return new(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? new(StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            // A damaged file is replaced; it only ever holds throw-away development values.
            return new(StringComparer.Ordinal);
        }
    }

    private static void Write(string path, Dictionary<string, string> values)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var json = JsonSerializer.Serialize(values, Indented);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, json);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
