using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Settings;

/// <summary>Runs every settings validator at once and prints all problems, so an operator fixes them in one go.</summary>
internal static class StartupProblems
{
    /// <returns>True when the configuration is valid; otherwise the problems were written to <paramref name="output"/>.</returns>
    public static bool Check(IServiceProvider services, TextWriter output)
    {
        var problems = new List<string>();
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (OptionsValidationException ex)
        {
            problems.AddRange(ex.Failures);
        }
        catch (AggregateException ex)
        {
            foreach (var inner in ex.InnerExceptions)
            {
                problems.AddRange(inner is OptionsValidationException validation ? validation.Failures : [inner.Message]);
            }
        }
        catch (InvalidOperationException ex)
        {
            // Binding failures (a non-number where a number belongs) name the key, never the value.
            problems.Add(ex.Message);
        }

        problems = problems.Distinct(StringComparer.Ordinal).ToList();
        if (problems.Count == 0)
        {
            return true;
        }

        var environment = services.GetRequiredService<IHostEnvironment>().EnvironmentName;
        output.WriteLine($"BluesMinds Gateway cannot start ({environment}): the configuration has {problems.Count} problem(s):");
        foreach (var problem in problems)
        {
            output.WriteLine($"  - {problem}");
        }

        output.WriteLine("See docs/PRODUCTION.md for every setting.");
        return false;
    }
}
