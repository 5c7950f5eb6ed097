using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class UsageLogConfiguration : IEntityTypeConfiguration<UsageLog>
{
    public void Configure(EntityTypeBuilder<UsageLog> builder)
    {
        builder.ToTable("usage_logs", t =>
        {
            t.HasCheckConstraint("ck_usage_logs_tokens", "prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0 AND total_tokens >= 0");
            t.HasCheckConstraint("ck_usage_logs_cost", "cost_micros >= 0");
        });
        builder.HasKey(u => u.Id);
        builder.Property(u => u.RequestId).HasMaxLength(64);
        // Idempotency: a journal replayed after a crash must not insert a record twice.
        builder.HasIndex(u => u.RequestId).IsUnique();
        builder.Property(u => u.Endpoint).HasMaxLength(64);
        builder.Property(u => u.ModelRequested).HasMaxLength(200);
        builder.Property(u => u.ModelServed).HasMaxLength(200);
        builder.Property(u => u.ErrorCode).HasMaxLength(64);
        // The usage page reads one user's rows over a time range (a key filter narrows that user's
        // rows). No index by key or by time alone: every index is written on each request, and the
        // retention job walks the primary key instead (UsageRetentionJob).
        builder.HasIndex(u => new { u.UserId, u.CreatedAt });
    }
}
