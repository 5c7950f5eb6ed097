namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A Stripe invoice kept in step with Stripe by the billing webhook.</summary>
public sealed class Invoice
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public required string StripeInvoiceId { get; set; }

    public int? PlanId { get; set; }

    public required string Status { get; set; }

    public long AmountDueCents { get; set; }

    public long AmountPaidCents { get; set; }

    public string Currency { get; set; } = "usd";

    public DateTime? PeriodStart { get; set; }

    public DateTime? PeriodEnd { get; set; }

    public string? HostedInvoiceUrl { get; set; }

    public DateTime CreatedAt { get; set; }

    public DateTime UpdatedAt { get; set; }
}
