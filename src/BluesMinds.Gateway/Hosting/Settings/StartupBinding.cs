namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Reads a settings section while the host is still being built.</summary>
internal static class StartupBinding
{
    /// <summary>
    /// The section bound, or null when absent or when a value does not convert (a word where a
    /// number or true/false belongs). Such a value must not crash start-up with a stack trace:
    /// the defaults stand in until <see cref="StartupProblems"/> binds the options again and
    /// reports it, with every other problem, before anything serves.
    /// </summary>
    public static T? BindOrDefault<T>(this IConfiguration configuration, string section)
        where T : class
    {
        try
        {
            return configuration.GetSection(section).Get<T>();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
