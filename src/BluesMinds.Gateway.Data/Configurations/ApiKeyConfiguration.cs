using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> builder)
    {
        builder.ToTable("api_keys");
        builder.HasKey(k => k.Id);
        builder.Property(k => k.Name).HasMaxLength(100);
        builder.Property(k => k.KeyHash).HasMaxLength(32);
        // The hot path finds a key by its hash and nothing else.
        builder.HasIndex(k => k.KeyHash).IsUnique();
        builder.Property(k => k.Prefix).HasMaxLength(16);
        builder.Property(k => k.LastFour).HasMaxLength(4);
        builder.HasIndex(k => new { k.UserId, k.CreatedAt });
        builder.HasOne(k => k.User).WithMany().HasForeignKey(k => k.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}
