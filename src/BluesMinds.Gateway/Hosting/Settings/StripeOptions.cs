using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Stripe</c>: billing is on when both the secret key and the webhook secret are set.</summary>
internal sealed class StripeOptions
{
    public const string Section = "Stripe";

    public string? SecretKey { get; set; }

    public string? WebhookSecret { get; set; }

    public string? PriceStarter { get; set; }

    public string? PricePro { get; set; }

    public string? PriceEnterprise { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(SecretKey) && !string.IsNullOrWhiteSpace(WebhookSecret);
}

internal sealed class StripeOptionsValidator(IHostEnvironment environment) : IValidateOptions<StripeOptions>
{
    public ValidateOptionsResult Validate(string? name, StripeOptions options)
    {
        var problems = new List<string>();
        var hasKey = !string.IsNullOrWhiteSpace(options.SecretKey);
        var hasWebhook = !string.IsNullOrWhiteSpace(options.WebhookSecret);
        if (environment.IsProduction())
        {
            if (hasKey && !hasWebhook)
            {
                problems.Add("STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: payments would never reach the gateway.");
            }
            else if (hasWebhook && !hasKey)
            {
                problems.Add("STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not.");
            }
        }

        if (hasKey && !options.SecretKey!.StartsWith("sk_", StringComparison.Ordinal) && !options.SecretKey.StartsWith("rk_", StringComparison.Ordinal))
        {
            problems.Add("STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_… or rk_…).");
        }

        if (hasWebhook && !options.WebhookSecret!.StartsWith("whsec_", StringComparison.Ordinal))
        {
            problems.Add("STRIPE_WEBHOOK_SECRET does not look like a Stripe webhook signing secret (whsec_…).");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
