using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

/// <summary>
/// Makes and hashes <c>bm_</c> keys: 43 base62 characters from a cryptographic generator (256 bits),
/// stored only as HMAC-SHA256 under <c>API_KEY_SECRET</c>, so a stolen database cannot be used to
/// call the gateway nor to check guesses offline without the secret.
/// </summary>
internal sealed class ApiKeySecrets(IOptions<SecurityOptions> options) : IDisposable
{
    public const string Prefix = "bm_";
    public const int RandomLength = 43;
    public const int KeyLength = 3 + RandomLength;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private readonly byte[] _secret = Encoding.UTF8.GetBytes(options.Value.ApiKeySecret ?? string.Empty);

    // One keyed HMAC per thread, reset after each use: the one-shot HashData sets the key up (and,
    // with OpenSSL 3, looks the algorithm up) on every call, once per gateway request.
    private readonly ThreadLocal<IncrementalHash> _hmac = new(trackAllValues: true);

    public static string Generate() => Prefix + RandomNumberGenerator.GetString(Alphabet, RandomLength);

    /// <summary>The display prefix kept in the database: <c>bm_</c> and four characters.</summary>
    public static string DisplayPrefix(string key) => key[..(Prefix.Length + 4)];

    public static string LastFour(string key) => key[^4..];

    /// <summary>Shape check before any hashing or lookup, so garbage costs nothing.</summary>
    public static bool HasKeyShape(ReadOnlySpan<char> key)
    {
        if (key.Length != KeyLength || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in key[Prefix.Length..])
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    public byte[] Hash(string key)
    {
        var hash = new byte[32];
        Hash(key, hash);
        return hash;
    }

    public void Hash(ReadOnlySpan<char> key, Span<byte> destination)
    {
        Span<byte> utf8 = key.Length <= KeyLength ? stackalloc byte[KeyLength * 3] : new byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        var hmac = _hmac.Value ??= IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _secret);
        hmac.AppendData(utf8[..length]);
        hmac.GetHashAndReset(destination);
    }

    public void Dispose()
    {
        foreach (var hmac in _hmac.Values)
        {
            hmac.Dispose();
        }

        _hmac.Dispose();
    }
}
