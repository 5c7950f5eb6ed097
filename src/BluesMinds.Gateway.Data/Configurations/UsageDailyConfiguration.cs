using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class UsageDailyConfiguration : IEntityTypeConfiguration<UsageDaily>
{
    public void Configure(EntityTypeBuilder<UsageDaily> builder)
    {
        builder.ToTable("usage_daily", t => t.HasCheckConstraint(
            "ck_usage_daily_values",
            "requests >= 0 AND error_requests >= 0 AND prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0 AND total_tokens >= 0 AND cost_micros >= 0"));
        builder.HasKey(u => u.Id);
        builder.Property(u => u.Model).HasMaxLength(200);
        // The upsert target of the writer; also serves per-user reads by day.
        builder.HasIndex(u => new { u.UserId, u.Day, u.ApiKeyId, u.Model }).IsUnique();
        builder.HasIndex(u => u.Day);
        // No foreign keys: rollups stay when a key or a user row goes, as invoices need them.
    }
}
