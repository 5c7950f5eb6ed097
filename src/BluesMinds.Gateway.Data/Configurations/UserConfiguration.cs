using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> builder)
    {
        builder.ToTable("users", t =>
        {
            t.HasCheckConstraint("ck_users_role", "role IN ('user', 'admin')");
            t.HasCheckConstraint("ck_users_status", "status IN ('active', 'suspended', 'deleted')");
        });
        builder.HasKey(u => u.Id);
        builder.Property(u => u.Email).HasMaxLength(320);
        builder.HasIndex(u => u.Email).IsUnique();
        builder.Property(u => u.PasswordHash).HasMaxLength(100);
        builder.Property(u => u.FullName).HasMaxLength(200);
        builder.Property(u => u.Role).HasMaxLength(16);
        builder.Property(u => u.Status).HasMaxLength(16);
        builder.Property(u => u.StripeCustomerId).HasMaxLength(64);
        builder.HasIndex(u => u.StripeCustomerId).IsUnique();
        builder.HasOne(u => u.Plan).WithMany().HasForeignKey(u => u.PlanId).OnDelete(DeleteBehavior.Restrict);
    }
}
