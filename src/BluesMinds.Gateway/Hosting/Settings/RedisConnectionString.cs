using StackExchange.Redis;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Reads <c>REDIS_URL</c> in either the URL form or StackExchange.Redis' own form.</summary>
internal static class RedisConnectionString
{
    /// <summary>
    /// Why the value cannot be used, or null. No StackExchange.Redis type in its signature: the
    /// settings check runs on every start, and should not load that library where Redis is not used.
    /// </summary>
    public static string? Problem(string value)
    {
        try
        {
            Parse(value);
            return null;
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }
    }

    /// <exception cref="FormatException">The message never contains the password.</exception>
    public static ConfigurationOptions Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        value = value.Trim();
        ConfigurationOptions options;
        if (value.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("redis" or "rediss") || string.IsNullOrEmpty(uri.Host))
            {
                throw new FormatException("REDIS_URL must look like redis://[:password@]host:port[/db] or rediss://… for TLS.");
            }

            options = new ConfigurationOptions { Ssl = uri.Scheme == "rediss" };
            options.EndPoints.Add(uri.Host, uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
            if (uri.UserInfo.Length > 0)
            {
                var separator = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
                var user = Uri.UnescapeDataString(separator < 0 ? string.Empty : uri.UserInfo[..separator]);
                var password = Uri.UnescapeDataString(separator < 0 ? uri.UserInfo : uri.UserInfo[(separator + 1)..]);
                options.User = user.Length > 0 ? user : null;
                options.Password = password;
            }

            var path = uri.AbsolutePath.Trim('/');
            if (path.Length > 0)
            {
                if (!int.TryParse(path, out var database) || database < 0)
                {
                    throw new FormatException("REDIS_URL names a database that is not a non-negative number.");
                }

                options.DefaultDatabase = database;
            }
        }
        else
        {
            try
            {
                options = ConfigurationOptions.Parse(value);
            }
            catch (ArgumentException)
            {
                throw new FormatException("REDIS_URL is neither a redis:// URL nor a valid StackExchange.Redis configuration string.");
            }

            if (options.EndPoints.Count == 0)
            {
                throw new FormatException("REDIS_URL names no host.");
            }
        }

        // Start-up must not fail because Redis is briefly away; readiness reports it instead.
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 5000);
        options.ClientName ??= "bluesminds-gateway";
        return options;
    }
}
