using BluesMinds.Gateway.Data.Entities;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace BluesMinds.Gateway.Data.Configurations;

internal sealed class PaymentTransactionConfiguration : IEntityTypeConfiguration<PaymentTransaction>
{
    public void Configure(EntityTypeBuilder<PaymentTransaction> builder)
    {
        builder.ToTable("payment_transactions", t => t.HasCheckConstraint("ck_payment_transactions_amount", "amount_cents >= 0"));
        builder.HasKey(p => p.Id);
        builder.Property(p => p.StripePaymentIntentId).HasMaxLength(64);
        builder.HasIndex(p => p.StripePaymentIntentId);
        builder.Property(p => p.Currency).HasMaxLength(3);
        builder.Property(p => p.Status).HasMaxLength(32);
        builder.Property(p => p.FailureReason).HasMaxLength(500);
        builder.HasIndex(p => new { p.UserId, p.CreatedAt });
        builder.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Invoice>().WithMany().HasForeignKey(p => p.InvoiceId).OnDelete(DeleteBehavior.SetNull);
    }
}
