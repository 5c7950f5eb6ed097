using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Features.Accounts;

/// <summary>bcrypt with <c>BCRYPT_ROUNDS</c>; verifies against a dummy hash for unknown users so timing reveals nothing.</summary>
internal sealed class PasswordHasher(IOptions<SecurityOptions> options)
{
    private readonly Lazy<string> _dummyHash = new(() => BCrypt.Net.BCrypt.HashPassword("dummy-password-for-timing", options.Value.BcryptRounds));

    public string Hash(string password) => BCrypt.Net.BCrypt.HashPassword(password, options.Value.BcryptRounds);

    public bool Verify(string password, string? hash)
    {
        if (hash is null)
        {
            BCrypt.Net.BCrypt.Verify(password, _dummyHash.Value);
            return false;
        }

        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }
}
