using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class RateLimitConfiguration : IEntityTypeConfiguration<RateLimit>
{
    public void Configure(EntityTypeBuilder<RateLimit> builder)
    {
        builder.ToTable("rate_limits", t =>
        {
            t.HasCheckConstraint("ck_rate_limits_scope", "scope IN ('plan', 'user', 'key')");
            // Exactly the id that matches the scope is set.
            t.HasCheckConstraint(
                "ck_rate_limits_target",
                "(scope = 'plan' AND plan_id IS NOT NULL AND user_id IS NULL AND api_key_id IS NULL) OR " +
                "(scope = 'user' AND user_id IS NOT NULL AND plan_id IS NULL AND api_key_id IS NULL) OR " +
                "(scope = 'key' AND api_key_id IS NOT NULL AND plan_id IS NULL AND user_id IS NULL)");
            t.HasCheckConstraint(
                "ck_rate_limits_values",
                "(requests_per_minute IS NULL OR requests_per_minute >= 0) AND " +
                "(tokens_per_minute IS NULL OR tokens_per_minute >= 0) AND " +
                "(concurrent_requests IS NULL OR concurrent_requests >= 0) AND " +
                "(monthly_token_quota IS NULL OR monthly_token_quota >= 0)");
        });
        builder.HasKey(r => r.Id);
        builder.Property(r => r.Scope).HasMaxLength(8);
        builder.HasIndex(r => r.PlanId).IsUnique();
        builder.HasIndex(r => r.UserId).IsUnique();
        builder.HasIndex(r => r.ApiKeyId).IsUnique();
        builder.HasOne<BillingPlan>().WithMany().HasForeignKey(r => r.PlanId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<User>().WithMany().HasForeignKey(r => r.UserId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<ApiKey>().WithMany().HasForeignKey(r => r.ApiKeyId).OnDelete(DeleteBehavior.Cascade);
    }
}
