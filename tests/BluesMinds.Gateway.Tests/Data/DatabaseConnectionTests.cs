using BluesMinds.Gateway.Data;
using Npgsql;

namespace BluesMinds.Gateway.Tests.Data;

public sealed class DatabaseConnectionTests
{
    [Fact]
    public void ToNpgsqlConnectionString_PostgresUrl_ReadsEveryPart()
    {
        var result = new NpgsqlConnectionStringBuilder(
            DatabaseConnection.ToNpgsqlConnectionString("postgres://app_user:p%40ss%3Aword@db.internal:6543/bluesminds?sslmode=require"));

        Assert.Equal("db.internal", result.Host);
        Assert.Equal(6543, result.Port);
        Assert.Equal("bluesminds", result.Database);
        Assert.Equal("app_user", result.Username);
        Assert.Equal("p@ss:word", result.Password);
        Assert.Equal(SslMode.Require, result.SslMode);
    }

    [Fact]
    public void ToNpgsqlConnectionString_PostgresqlSchemeWithoutPort_UsesDefaultPort()
    {
        var result = new NpgsqlConnectionStringBuilder(DatabaseConnection.ToNpgsqlConnectionString("postgresql://u@localhost/db"));

        Assert.Equal(5432, result.Port);
        Assert.Equal("u", result.Username);
        Assert.Null(result.Password);
    }

    [Fact]
    public void ToNpgsqlConnectionString_NpgsqlConnectionString_IsAccepted()
    {
        var result = new NpgsqlConnectionStringBuilder(
            DatabaseConnection.ToNpgsqlConnectionString("Host=10.0.0.5;Port=5433;Database=gw;Username=gw;Password=secret-value"));

        Assert.Equal("10.0.0.5", result.Host);
        Assert.Equal(5433, result.Port);
        Assert.Equal("gw", result.Database);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("mysql://user:Hunter2Secret@host/db")]
    [InlineData("postgres://user:Hunter2Secret@host")]
    [InlineData("postgres://user:Hunter2Secret@host/")]
    [InlineData("postgres://user:Hunter2Secret@host/a/b")]
    [InlineData("postgres://user:Hunter2Secret@host/db?bogus_option=1")]
    [InlineData("Database=db;Password=Hunter2Secret")]
    [InlineData("this is not a connection string Hunter2Secret")]
    public void ToNpgsqlConnectionString_Malformed_ThrowsFormatExceptionWithoutThePassword(string value)
    {
        var ex = Assert.Throws<FormatException>(() => DatabaseConnection.ToNpgsqlConnectionString(value));

        Assert.Contains("DATABASE_URL", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Hunter2Secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToSqliteConnectionString_PlainPath_BecomesDataSourceWithBusyTimeout()
    {
        var result = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(DatabaseConnection.ToSqliteConnectionString("/tmp/x/gw.db"));

        Assert.Equal("/tmp/x/gw.db", result.DataSource);
        Assert.True(result.DefaultTimeout >= 30);
    }

    [Fact]
    public void Describe_Postgres_NamesHostAndDatabaseButNotCredentials()
    {
        var connectionString = DatabaseConnection.ToNpgsqlConnectionString("postgres://admin:TopSecretPassword@db.example:5432/prod");

        var description = DatabaseConnection.Describe(DatabaseProvider.Postgres, connectionString);

        Assert.Equal("postgres db.example:5432/prod", description);
        Assert.DoesNotContain("TopSecretPassword", description, StringComparison.Ordinal);
        Assert.DoesNotContain("admin", description, StringComparison.Ordinal);
    }
}
