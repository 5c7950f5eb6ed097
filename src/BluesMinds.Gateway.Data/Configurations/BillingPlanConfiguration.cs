using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class BillingPlanConfiguration : IEntityTypeConfiguration<BillingPlan>
{
    private static readonly DateTime SeededAt = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public void Configure(EntityTypeBuilder<BillingPlan> builder)
    {
        builder.ToTable("billing_plans", t =>
        {
            t.HasCheckConstraint("ck_billing_plans_price", "price_monthly_cents >= 0");
            t.HasCheckConstraint(
                "ck_billing_plans_limits",
                "requests_per_minute >= 0 AND tokens_per_minute >= 0 AND concurrent_requests >= 0 AND monthly_token_quota >= 0");
        });
        builder.HasKey(p => p.Id);
        // Seeded ids are fixed so foreign keys and code can name them.
        builder.Property(p => p.Id).ValueGeneratedNever();
        builder.Property(p => p.Code).HasMaxLength(32);
        builder.HasIndex(p => p.Code).IsUnique();
        builder.Property(p => p.Name).HasMaxLength(100);
        builder.Property(p => p.Currency).HasMaxLength(3);

        builder.HasData(
            Plan(BillingPlanIds.Free, "free", "Free", priceCents: 0, rpm: 20, tpm: 40_000, concurrent: 2, monthlyTokens: 100_000),
            Plan(BillingPlanIds.Starter, "starter", "Starter", priceCents: 2_900, rpm: 60, tpm: 200_000, concurrent: 5, monthlyTokens: 2_000_000),
            Plan(BillingPlanIds.Pro, "pro", "Pro", priceCents: 9_900, rpm: 300, tpm: 1_000_000, concurrent: 20, monthlyTokens: 10_000_000),
            Plan(BillingPlanIds.Enterprise, "enterprise", "Enterprise", priceCents: 29_900, rpm: 1_000, tpm: 5_000_000, concurrent: 50, monthlyTokens: 50_000_000));
    }

    private static BillingPlan Plan(int id, string code, string name, long priceCents, int rpm, int tpm, int concurrent, long monthlyTokens) => new()
    {
        Id = id,
        Code = code,
        Name = name,
        PriceMonthlyCents = priceCents,
        Currency = "usd",
        RequestsPerMinute = rpm,
        TokensPerMinute = tpm,
        ConcurrentRequests = concurrent,
        MonthlyTokenQuota = monthlyTokens,
        IsActive = true,
        SortOrder = id,
        CreatedAt = SeededAt,
        UpdatedAt = SeededAt,
    };
}
