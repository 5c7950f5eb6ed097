using BluesMinds.Gateway.Data;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace BluesMinds.Gateway.IntegrationTests.Data;

/// <summary>Runs on the provider this suite run covers (scripts/test.sh runs it once per provider).</summary>
public sealed class MigrationTests
{
    private static readonly string[] ChecklistTables =
    [
        "users", "api_keys", "litellm_servers", "usage_logs", "rate_limits", "billing_plans", "invoices", "payment_transactions",
        "audit_logs", "stripe_webhook_events",
    ];

    [Fact]
    public async Task Migrate_EmptyDatabase_CreatesEveryChecklistTable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        var tables = await database.TableNamesAsync();

        foreach (var table in ChecklistTables)
        {
            Assert.Contains(table, tables);
        }
    }

    [Fact]
    public async Task Migrate_EmptyDatabase_UsesSnakeCaseForEveryTableAndColumn()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        foreach (var table in ChecklistTables)
        {
            var columns = await database.ColumnNamesAsync(table);
            Assert.NotEmpty(columns);
            Assert.All(columns, c => Assert.Matches("^[a-z][a-z0-9_]*$", c));
        }

        Assert.Contains("key_hash", await database.ColumnNamesAsync("api_keys"));
        Assert.Contains("supported_models", await database.ColumnNamesAsync("litellm_servers"));
    }

    [Fact]
    public async Task Migrate_EmptyDatabase_CreatesTheHotPathIndexes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        var keyIndexes = await database.IndexesAsync("api_keys");
        var usageIndexes = await database.IndexesAsync("usage_logs");

        Assert.Contains("UNIQUE", keyIndexes["ix_api_keys_key_hash"], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("key_hash", keyIndexes["ix_api_keys_key_hash"], StringComparison.Ordinal);
        Assert.Contains("user_id, created_at", usageIndexes["ix_usage_logs_user_id_created_at"].Replace("\"", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("UNIQUE", usageIndexes["ix_usage_logs_request_id"], StringComparison.OrdinalIgnoreCase);

        // Every usage_logs index is written on each request: no more than the reads need.
        Assert.Equal(["ix_usage_logs_request_id", "ix_usage_logs_user_id_created_at"], usageIndexes.Keys.Where(k => k.StartsWith("ix_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Migrate_EmptyDatabase_SeedsTheFourPlansWithTheirPricesAndLimits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        await using var db = database.OpenContext();
        var plans = await db.BillingPlans.OrderBy(p => p.SortOrder).ToListAsync();

        Assert.Equal(["free", "starter", "pro", "enterprise"], plans.Select(p => p.Code));
        Assert.Equal([0L, 2_900L, 9_900L, 29_900L], plans.Select(p => p.PriceMonthlyCents));
        Assert.All(plans, p =>
        {
            Assert.True(p.RequestsPerMinute > 0);
            Assert.True(p.TokensPerMinute > 0);
            Assert.True(p.ConcurrentRequests > 0);
            Assert.True(p.MonthlyTokenQuota > 0);
            Assert.Equal(DateTimeKind.Utc, p.CreatedAt.Kind);
        });
        // Each paid plan allows strictly more than the one below it.
        Assert.True(plans.Zip(plans.Skip(1)).All(pair => pair.Second.MonthlyTokenQuota > pair.First.MonthlyTokenQuota && pair.Second.RequestsPerMinute > pair.First.RequestsPerMinute));
    }

    [Fact]
    public async Task Migrate_RunTwice_ChangesNothingTheSecondTime()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using (var first = new GatewayApp(database))
        {
            _ = first.Services;
        }

        await using var second = new GatewayApp(database);
        _ = second.Services;

        await using var db = database.OpenContext();
        Assert.Equal(4, await db.BillingPlans.CountAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
    }

    [Fact]
    public async Task Schema_TimestampsAndLists_RoundTripAsUtcAndValues()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;
        var created = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc);

        await using (var db = database.OpenContext())
        {
            db.LitellmServers.Add(new LitellmServer
            {
                Id = Guid.CreateVersion7(),
                Name = "primary",
                BaseUrl = "http://127.0.0.1:4000",
                SupportedModels = ["gpt-4o", "text-embedding-3-small"],
                CreatedAt = created,
                UpdatedAt = created,
            });
            await db.SaveChangesAsync();
        }

        await using (var db = database.OpenContext())
        {
            var server = await db.LitellmServers.SingleAsync();
            Assert.Equal(created, server.CreatedAt);
            Assert.Equal(DateTimeKind.Utc, server.CreatedAt.Kind);
            Assert.Equal(["gpt-4o", "text-embedding-3-small"], server.SupportedModels);
            Assert.Equal(1, await db.LitellmServers.CountAsync(s => s.CreatedAt > created.AddSeconds(-1) && s.CreatedAt < created.AddSeconds(1)));
        }
    }

    [Fact]
    public async Task Schema_CheckConstraints_RefuseImpossibleValues()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        await using var db = database.OpenContext();
        db.UsageLogs.Add(new UsageLog { RequestId = "req_negative", Endpoint = "chat", PromptTokens = -1, CreatedAt = DateTime.UtcNow });
        await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());

        await using var fresh = database.OpenContext();
        Assert.Equal(0, await fresh.UsageLogs.CountAsync());
    }

    [Fact]
    public async Task Schema_DuplicateRequestId_IsRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        _ = app.Services;

        await using (var db = database.OpenContext())
        {
            db.UsageLogs.Add(new UsageLog { RequestId = "req_same", Endpoint = "chat", CreatedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        await using var second = database.OpenContext();
        second.UsageLogs.Add(new UsageLog { RequestId = "req_same", Endpoint = "chat", CreatedAt = DateTime.UtcNow });
        await Assert.ThrowsAsync<DbUpdateException>(() => second.SaveChangesAsync());
    }
}

/// <summary>Model checks that need no database and cover both providers in every run.</summary>
public sealed class ModelTests
{
    private static GatewayDbContext Create(DatabaseProvider provider) => provider == DatabaseProvider.Sqlite
        ? ((IDesignTimeDbContextFactory<SqliteGatewayDbContext>)Activator.CreateInstance(typeof(SqliteGatewayDbContext).Assembly.GetType("BluesMinds.Gateway.Data.SqliteDesignTimeFactory")!, nonPublic: true)!).CreateDbContext([])
        : ((IDesignTimeDbContextFactory<PostgresGatewayDbContext>)Activator.CreateInstance(typeof(PostgresGatewayDbContext).Assembly.GetType("BluesMinds.Gateway.Data.PostgresDesignTimeFactory")!, nonPublic: true)!).CreateDbContext([]);

    [Theory]
    [InlineData(DatabaseProvider.Sqlite)]
    [InlineData(DatabaseProvider.Postgres)]
    public void Model_EachProvider_HasNoPendingModelChanges(DatabaseProvider provider)
    {
        using var db = Create(provider);

        Assert.False(db.Database.HasPendingModelChanges(), $"The {provider} model has changes without a migration; add one for both providers (CONTRIBUTING.md).");
    }

    [Fact]
    public void Migrations_BothProviders_HaveTheSameMigrationsInTheSameOrder()
    {
        using var sqlite = Create(DatabaseProvider.Sqlite);
        using var postgres = Create(DatabaseProvider.Postgres);

        static string[] Names(GatewayDbContext db) => db.Database.GetMigrations().Select(id => id[(id.IndexOf('_', StringComparison.Ordinal) + 1)..]).ToArray();

        Assert.NotEmpty(Names(sqlite));
        Assert.Equal(Names(sqlite), Names(postgres));
    }
}
