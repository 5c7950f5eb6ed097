using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class InvoiceConfiguration : IEntityTypeConfiguration<Invoice>
{
    public void Configure(EntityTypeBuilder<Invoice> builder)
    {
        builder.ToTable("invoices", t => t.HasCheckConstraint("ck_invoices_amounts", "amount_due_cents >= 0 AND amount_paid_cents >= 0"));
        builder.HasKey(i => i.Id);
        builder.Property(i => i.StripeInvoiceId).HasMaxLength(64);
        builder.HasIndex(i => i.StripeInvoiceId).IsUnique();
        builder.Property(i => i.Status).HasMaxLength(32);
        builder.Property(i => i.Currency).HasMaxLength(3);
        builder.Property(i => i.HostedInvoiceUrl).HasMaxLength(2048);
        builder.HasIndex(i => new { i.UserId, i.CreatedAt });
        builder.HasOne<User>().WithMany().HasForeignKey(i => i.UserId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<BillingPlan>().WithMany().HasForeignKey(i => i.PlanId).OnDelete(DeleteBehavior.SetNull);
    }
}
