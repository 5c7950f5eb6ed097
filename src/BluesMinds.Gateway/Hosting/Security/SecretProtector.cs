using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Security;

/// <summary>
/// The one seam through which credentials are encrypted at rest: AES-256-GCM under a key derived
/// from <c>ENCRYPTION_KEY</c> with HKDF. Stored form: version byte, 12-byte nonce, 16-byte tag,
/// ciphertext. A wrong key or a tampered value fails loudly instead of decrypting to garbage.
/// </summary>
internal sealed class SecretProtector
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public SecretProtector(IOptions<SecurityOptions> options)
    {
        var material = Encoding.UTF8.GetBytes(options.Value.EncryptionKey ?? string.Empty);
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, material, 32, info: "bluesminds/column-encryption/v1"u8.ToArray());
    }

    public byte[] Protect(string plaintext)
    {
        var data = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[1 + NonceSize + TagSize + data.Length];
        output[0] = Version;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, data, output.AsSpan(1 + NonceSize + TagSize), output.AsSpan(1 + NonceSize, TagSize));
        return output;
    }

    /// <exception cref="CryptographicException">Wrong key, unknown version or tampered data.</exception>
    public string Unprotect(byte[] protectedValue)
    {
        ArgumentNullException.ThrowIfNull(protectedValue);
        if (protectedValue.Length < 1 + NonceSize + TagSize || protectedValue[0] != Version)
        {
            throw new CryptographicException("The encrypted value has an unknown format.");
        }

        var plaintext = new byte[protectedValue.Length - 1 - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(
            protectedValue.AsSpan(1, NonceSize),
            protectedValue.AsSpan(1 + NonceSize + TagSize),
            protectedValue.AsSpan(1 + NonceSize, TagSize),
            plaintext);
        return Encoding.UTF8.GetString(plaintext);
    }
}
