using BluesMinds.Gateway.Hosting.Configuration;

namespace BluesMinds.Gateway.Hosting.Logging;

/// <summary>Start-up and hosting log messages; event ids are stable so alerts can key on them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "BluesMinds Gateway {Version} starting in {Environment} on {Database}")]
    public static partial void Starting(ILogger logger, string version, string environment, string database);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Development secrets {Outcome} in {Path}; never use them in production")]
    public static partial void DevelopmentSecrets(ILogger logger, DevelopmentSecretsOutcome outcome, string path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "ADMIN_EMAILS is empty: no user will be able to manage servers, plans or users")]
    public static partial void NoAdmins(ILogger logger);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Inline socket I/O (the gateway's routes served on the socket threads): {Inline}")]
    public static partial void InlineSocketIo(ILogger logger, bool inline);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Garbage collector: {Mode}; generation-0 budget at most {Gen0MaxBudget} bytes")]
    public static partial void GarbageCollector(ILogger logger, string mode, long? gen0MaxBudget);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Applying database migrations on {Database}")]
    public static partial void Migrating(ILogger logger, string database);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Database is up to date ({Applied} migration(s) applied now)")]
    public static partial void Migrated(ILogger logger, int applied);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Database {Database} not reachable (attempt {Attempt}); retrying in {DelayMs} ms")]
    public static partial void DatabaseRetry(ILogger logger, string database, int attempt, int delayMs, Exception exception);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Health check {Check} failed")]
    public static partial void HealthCheckFailed(ILogger logger, string check, Exception? exception);

    [LoggerMessage(EventId = 1030, Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path}")]
    public static partial void UnhandledException(ILogger logger, string method, string path, Exception exception);
}
