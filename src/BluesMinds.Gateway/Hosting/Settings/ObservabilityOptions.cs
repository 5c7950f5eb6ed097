using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>Observability</c>: error tracking and log shipping, off unless configured.</summary>
internal sealed class ObservabilityOptions
{
    public const string Section = "Observability";

    /// <summary><c>SENTRY_DSN</c>.</summary>
    public string? SentryDsn { get; set; }

    /// <summary><c>LOGTAIL_SOURCE_TOKEN</c>.</summary>
    public string? LogtailSourceToken { get; set; }
}

internal sealed class ObservabilityOptionsValidator : IValidateOptions<ObservabilityOptions>
{
    public ValidateOptionsResult Validate(string? name, ObservabilityOptions options) =>
        string.IsNullOrWhiteSpace(options.SentryDsn) || (Uri.TryCreate(options.SentryDsn, UriKind.Absolute, out var dsn) && dsn.Scheme is "https" or "http")
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("SENTRY_DSN must be the https URL Sentry gives for the project.");
}
