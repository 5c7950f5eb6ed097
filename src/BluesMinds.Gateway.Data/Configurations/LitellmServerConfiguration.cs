using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class LitellmServerConfiguration : IEntityTypeConfiguration<LitellmServer>
{
    public void Configure(EntityTypeBuilder<LitellmServer> builder)
    {
        builder.ToTable("litellm_servers", t =>
        {
            t.HasCheckConstraint("ck_litellm_servers_weight", "weight >= 0");
            t.HasCheckConstraint("ck_litellm_servers_priority", "priority >= 0");
        });
        builder.HasKey(s => s.Id);
        builder.Property(s => s.Name).HasMaxLength(100);
        builder.HasIndex(s => s.Name).IsUnique();
        builder.Property(s => s.BaseUrl).HasMaxLength(2048);
        builder.Property(s => s.HealthStatus).HasMaxLength(16);
        builder.Property(s => s.LastError).HasMaxLength(1000);
    }
}
