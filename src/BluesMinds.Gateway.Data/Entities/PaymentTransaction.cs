namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A payment attempt (successful or failed) against an invoice.</summary>
public sealed class PaymentTransaction
{
    public Guid Id { get; set; }

    public Guid UserId { get; set; }

    public Guid? InvoiceId { get; set; }

    public string? StripePaymentIntentId { get; set; }

    public long AmountCents { get; set; }

    public string Currency { get; set; } = "usd";

    public required string Status { get; set; }

    public string? FailureReason { get; set; }

    public DateTime CreatedAt { get; set; }
}
