using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Section <c>App</c>: where the deployment lives and what it accepts.</summary>
internal sealed class AppOptions
{
    public const string Section = "App";

    /// <summary><c>APP_URL</c>: the public base address; https in Production.</summary>
    public string Url { get; set; } = "http://localhost:5080";

    /// <summary>Folder for the embedded database, development secrets and local journals.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary><c>TRUSTED_PROXIES</c>: comma-separated IPs or CIDR ranges whose X-Forwarded-* headers are honoured.</summary>
    public string? TrustedProxies { get; set; }

    /// <summary><c>MAX_REQUEST_BODY_BYTES</c>: larger bodies get 413 before they are read.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// <c>INLINE_SOCKET_IO</c>: serve the gateway's routes on the socket threads (see
    /// <see cref="Http.InlineSocketIo"/>); unset, on with the embedded database and off with PostgreSQL.
    /// </summary>
    public bool? InlineSocketIo { get; set; }

    public static string ResolveDataDirectory(string? configured, string contentRoot) =>
        Path.GetFullPath(string.IsNullOrWhiteSpace(configured) ? "data" : configured, contentRoot);

    public IReadOnlyList<string> TrustedProxyList() => SettingLists.Split(TrustedProxies);
}

internal sealed class AppOptionsValidator(IHostEnvironment environment) : IValidateOptions<AppOptions>
{
    public ValidateOptionsResult Validate(string? name, AppOptions options)
    {
        var problems = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            problems.Add("APP_URL must be an absolute http(s) URL.");
        }
        else if (environment.IsProduction() && url.Scheme != "https")
        {
            problems.Add("APP_URL must use https in Production.");
        }

        foreach (var proxy in options.TrustedProxyList())
        {
            if (!System.Net.IPNetwork.TryParse(proxy, out _) && !System.Net.IPAddress.TryParse(proxy, out _))
            {
                problems.Add($"TRUSTED_PROXIES has an entry that is neither an IP address nor a CIDR range: '{proxy}'.");
            }
        }

        if (options.MaxRequestBodyBytes is < 1024 or > 1024L * 1024 * 1024)
        {
            problems.Add("MAX_REQUEST_BODY_BYTES must be between 1024 and 1073741824.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
