using System.Security.Cryptography;
using System.Text;
using BluesMinds.Gateway.Hosting.Security;
using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Tests.Proxy;

public sealed class SecretProtectorTests
{
    private static SecretProtector Protector(string key) => new(Options.Create(new SecurityOptions { EncryptionKey = key }));

    [Fact]
    public void ProtectThenUnprotect_RoundTripsWithoutThePlaintextInTheStoredForm()
    {
        var protector = Protector("enc-key-one-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6");

        var stored = protector.Protect("sk-upstream-Secret-Value");

        Assert.Equal("sk-upstream-Secret-Value", protector.Unprotect(stored));
        Assert.DoesNotContain("Secret", Encoding.Latin1.GetString(stored), StringComparison.Ordinal);
        Assert.NotEqual(stored, protector.Protect("sk-upstream-Secret-Value"));
    }

    [Fact]
    public void Unprotect_WrongKeyOrTamperedValue_Throws()
    {
        var stored = Protector("enc-key-one-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6").Protect("sk-upstream");
        var tampered = (byte[])stored.Clone();
        tampered[^1] ^= 1;

        Assert.ThrowsAny<CryptographicException>(() => Protector("enc-key-two-Qm2Wn8Eb5Rv1Tc7Yx4Uz0Ia3").Unprotect(stored));
        Assert.ThrowsAny<CryptographicException>(() => Protector("enc-key-one-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6").Unprotect(tampered));
        Assert.ThrowsAny<CryptographicException>(() => Protector("enc-key-one-Zq8Lp3Xw7Mv1Nc5Bt9Rk2Hy6").Unprotect([9, 9, 9]));
    }
}
