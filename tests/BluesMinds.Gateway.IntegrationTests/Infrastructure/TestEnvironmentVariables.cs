using BluesMinds.Gateway.Data;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>
/// What <c>scripts/test.sh</c> hands the suite: which provider this run covers and where the
/// throw-away PostgreSQL and Redis listen.
/// </summary>
internal static class TestEnvironmentVariables
{
    public static DatabaseProvider Provider =>
        Enum.TryParse<DatabaseProvider>(Environment.GetEnvironmentVariable("TEST_DB_PROVIDER"), ignoreCase: true, out var p) ? p : DatabaseProvider.Sqlite;

    /// <summary>An admin connection to a PostgreSQL server on which tests may create databases.</summary>
    public static string PostgresAdminUrl => Environment.GetEnvironmentVariable("TEST_DATABASE_URL") is { Length: > 0 } url
        ? url
        : throw new InvalidOperationException("TEST_DATABASE_URL is not set; run the suite with ./scripts/test.sh, which starts PostgreSQL.");

    public static string RedisUrl => Environment.GetEnvironmentVariable("TEST_REDIS_URL") is { Length: > 0 } url
        ? url
        : throw new InvalidOperationException("TEST_REDIS_URL is not set; run the suite with ./scripts/test.sh, which starts Redis.");

    /// <summary>Strong, distinct values that pass the Production checks.</summary>
    public static readonly IReadOnlyDictionary<string, string> StrongSecrets = new Dictionary<string, string>
    {
        ["JWT_SECRET"] = "jwt-Zx8Qp3Lr7Tb1Wn5Yc9Kd2Mf6Hg0Js4Va",
        ["API_KEY_SECRET"] = "key-Ht4Nc8Bv1Xz5Lq9Wp3Rm7Df2Gk6Sj0Ea",
        ["ENCRYPTION_KEY"] = "enc-Pu6Ly2Kt8Ow4Ir0Ge5Fd9Cb3Xa7Zs1Qm",
    };
}
