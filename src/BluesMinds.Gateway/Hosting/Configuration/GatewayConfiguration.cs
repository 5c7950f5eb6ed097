using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace BluesMinds.Gateway.Hosting.Configuration;

/// <summary>Assembles configuration: appsettings, then <c>.env</c> files (Development), then the environment.</summary>
internal static class GatewayConfiguration
{
    /// <summary>
    /// Adds <c>.env</c>/<c>.env.local</c> (Development only), maps the checklist's variable names onto
    /// sections, and in Development fills missing secrets from a generated local file.
    /// </summary>
    /// <returns>What the development secrets step did, to be logged once logging exists.</returns>
    public static DevelopmentSecretsOutcome AddGatewayConfiguration(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var environment = builder.Environment;

        if (environment.IsDevelopment())
        {
            InsertDotEnvFiles(configuration, environment.ContentRootPath);
        }

        MapEnvironmentVariableNames(configuration);

        return environment.IsDevelopment()
            ? DevelopmentSecrets.Apply(configuration, environment.ContentRootPath)
            : DevelopmentSecretsOutcome.NotApplicable;
    }

    /// <summary>
    /// Values from <c>.env</c> files rank below real environment variables, as with every dotenv tool:
    /// an operator's exported variable must never be shadowed by a forgotten file.
    /// </summary>
    private static void InsertDotEnvFiles(ConfigurationManager configuration, string contentRoot)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in new[] { ".env", ".env.local" })
        {
            var path = Path.Combine(contentRoot, name);
            if (!File.Exists(path))
            {
                continue;
            }

            foreach (var pair in DotNetEnv.Env.Load(path, DotNetEnv.Env.NoEnvVars()))
            {
                values[pair.Key] = pair.Value;
            }
        }

        if (values.Count == 0)
        {
            return;
        }

        IList<IConfigurationSource> sources = ((IConfigurationBuilder)configuration).Sources;
        var index = sources.ToList().FindIndex(s => s is EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        var source = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values };
        if (index < 0)
        {
            sources.Add(source);
        }
        else
        {
            sources.Insert(index, source);
        }
    }

    private static void MapEnvironmentVariableNames(ConfigurationManager configuration)
    {
        var mapped = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (variable, key) in EnvironmentVariableNames.Map)
        {
            var value = configuration[variable];
            if (!string.IsNullOrEmpty(value))
            {
                mapped[key] = value;
            }
        }

        if (mapped.Count > 0)
        {
            configuration.AddInMemoryCollection(mapped);
        }
    }
}
