namespace BluesMinds.Gateway.Hosting.Configuration;

/// <summary>
/// The operator-facing names of the production checklist, mapped onto configuration sections.
/// ASP.NET's own form (<c>Security__JwtSecret</c>) works too; these names win when both are set.
/// </summary>
internal static class EnvironmentVariableNames
{
    public static readonly IReadOnlyList<(string Variable, string Key)> Map =
    [
        ("DATABASE_URL", "Database:Url"),
        ("DATABASE_PROVIDER", "Database:Provider"),
        ("DATABASE_MIGRATE_ON_STARTUP", "Database:MigrateOnStartup"),
        ("REDIS_URL", "Redis:Url"),
        ("APP_URL", "App:Url"),
        ("TRUSTED_PROXIES", "App:TrustedProxies"),
        ("MAX_REQUEST_BODY_BYTES", "App:MaxRequestBodyBytes"),
        ("INLINE_SOCKET_IO", "App:InlineSocketIo"),
        ("JWT_SECRET", "Security:JwtSecret"),
        ("API_KEY_SECRET", "Security:ApiKeySecret"),
        ("ENCRYPTION_KEY", "Security:EncryptionKey"),
        ("ADMIN_EMAILS", "Security:AdminEmails"),
        ("BCRYPT_ROUNDS", "Security:BcryptRounds"),
        ("CORS_ORIGINS", "Security:CorsOrigins"),
        ("SESSION_LIFETIME_MINUTES", "Security:SessionLifetimeMinutes"),
        ("SMTP_HOST", "Email:SmtpHost"),
        ("SMTP_PORT", "Email:SmtpPort"),
        ("SMTP_USERNAME", "Email:SmtpUsername"),
        ("SMTP_PASSWORD", "Email:SmtpPassword"),
        ("SMTP_FROM", "Email:From"),
        ("STRIPE_SECRET_KEY", "Stripe:SecretKey"),
        ("STRIPE_WEBHOOK_SECRET", "Stripe:WebhookSecret"),
        ("STRIPE_PRICE_STARTER", "Stripe:PriceStarter"),
        ("STRIPE_PRICE_PRO", "Stripe:PricePro"),
        ("STRIPE_PRICE_ENTERPRISE", "Stripe:PriceEnterprise"),
        ("SENTRY_DSN", "Observability:SentryDsn"),
        ("LOGTAIL_SOURCE_TOKEN", "Observability:LogtailSourceToken"),
        ("FEATURE_SIGNUP", "Features:Signup"),
        ("FEATURE_BILLING", "Features:Billing"),
        ("FEATURE_DASHBOARD", "Features:Dashboard"),
        ("RATE_LIMIT_ENABLED", "RateLimits:Enabled"),
        ("RATE_LIMIT_REQUESTS_PER_MINUTE", "RateLimits:RequestsPerMinute"),
        ("RATE_LIMIT_TOKENS_PER_MINUTE", "RateLimits:TokensPerMinute"),
        ("RATE_LIMIT_CONCURRENT_REQUESTS", "RateLimits:ConcurrentRequests"),
        ("RATE_LIMIT_DEFAULT_MAX_TOKENS", "RateLimits:DefaultMaxTokens"),
        ("RATE_LIMIT_REDIS_FAILURE_MODE", "RateLimits:RedisFailureMode"),
        ("USAGE_JOURNAL_PATH", "Usage:JournalPath"),
        ("USAGE_RETENTION_DAYS", "Usage:RetentionDays"),
    ];
}
