namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Features</c>: switches an operator may turn off.</summary>
internal sealed class FeatureOptions
{
    public const string Section = "Features";

    /// <summary><c>FEATURE_SIGNUP</c>: self-service sign-up; off for invite-only deployments.</summary>
    public bool Signup { get; set; } = true;

    /// <summary><c>FEATURE_BILLING</c>: Stripe plans and checkout; only effective when Stripe is configured.</summary>
    public bool Billing { get; set; } = true;

    /// <summary><c>FEATURE_DASHBOARD</c>: the server-rendered customer and admin pages.</summary>
    public bool Dashboard { get; set; } = true;
}
