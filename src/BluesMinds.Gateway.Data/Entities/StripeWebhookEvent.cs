namespace BluesMinds.Gateway.Data.Entities;

/// <summary>A Stripe event id already processed; makes the webhook idempotent.</summary>
public sealed class StripeWebhookEvent
{
    public required string EventId { get; set; }

    public required string Type { get; set; }

    public DateTime ProcessedAt { get; set; }
}
