using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace BluesMinds.Gateway.Data;

/// <summary>
/// The one model of the product. Each database provider has a sealed subclass so that each keeps
/// its own migrations (see <c>docs/decisions/0001-two-database-providers.md</c>).
/// </summary>
public abstract class GatewayDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<LitellmServer> LitellmServers => Set<LitellmServer>();

    public DbSet<UsageLog> UsageLogs => Set<UsageLog>();

    public DbSet<UsageDaily> UsageDaily => Set<UsageDaily>();

    public DbSet<ModelPrice> ModelPrices => Set<ModelPrice>();

    public DbSet<RateLimit> RateLimits => Set<RateLimit>();

    public DbSet<BillingPlan> BillingPlans => Set<BillingPlan>();

    public DbSet<Invoice> Invoices => Set<Invoice>();

    public DbSet<PaymentTransaction> PaymentTransactions => Set<PaymentTransaction>();

    public DbSet<AuditLog> AuditLogs => Set<AuditLog>();

    public DbSet<StripeWebhookEvent> StripeWebhookEvents => Set<StripeWebhookEvent>();

    public DbSet<UserSession> UserSessions => Set<UserSession>();

    public DbSet<PasswordResetToken> PasswordResetTokens => Set<PasswordResetToken>();

    /// <summary>The provider this context speaks to.</summary>
    public abstract DatabaseProvider Provider { get; }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(GatewayDbContext).Assembly);
    }
}
