namespace BluesMinds.Gateway.Data.Entities;

/// <summary>
/// What one model costs, in micro-dollars (1e-6 USD) per million tokens, so that every price and
/// every cost is an exact integer: $0.15 per 1M tokens is 150000.
/// </summary>
public sealed class ModelPrice
{
    /// <summary>The model name clients ask for (or an upstream name); unique.</summary>
    public required string Model { get; set; }

    public long InputMicrosPerMillion { get; set; }

    /// <summary>Price of prompt tokens served from the provider's cache; null charges them as input.</summary>
    public long? CachedInputMicrosPerMillion { get; set; }

    public long OutputMicrosPerMillion { get; set; }

    public DateTime UpdatedAt { get; set; }
}
