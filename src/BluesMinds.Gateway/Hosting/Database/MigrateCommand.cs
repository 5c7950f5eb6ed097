using BluesMinds.Gateway.Hosting.Settings;
using Microsoft.Extensions.Options;

namespace BluesMinds.Gateway.Hosting.Database;

/// <summary><c>dotnet BluesMinds.Gateway.dll migrate</c>: apply migrations and exit; non-zero on failure.</summary>
internal static class MigrateCommand
{
    public const string Name = "migrate";

    public static async Task<int> RunAsync(WebApplication app)
    {
        try
        {
            // Only the database settings matter here: a migration job need not hold the app's secrets.
            _ = app.Services.GetRequiredService<IOptions<AppOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("migrate: the database configuration is invalid:");
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync($"  - {failure}");
            }

            return 2;
        }

        try
        {
            await app.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
            await Console.Out.WriteLineAsync("migrate: database is up to date.");
            return 0;
        }
        catch (DatabaseUnavailableException ex)
        {
            await Console.Error.WriteLineAsync("migrate: " + ex.Message);
            return 1;
        }
    }
}
