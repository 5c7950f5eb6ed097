using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>
/// The real host in-process, on a database of its own. Settings are given as operators give them
/// (checklist environment-variable names or configuration keys); <paramref name="services"/>, for
/// the few tests that must replace the clock or watch the database, runs after the host's own.
/// </summary>
internal sealed class GatewayApp(
    TestDatabase database,
    IReadOnlyDictionary<string, string?>? settings = null,
    string environment = "Development",
    Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    // How many hosts run on each database at once: a host started while another runs gets a
    // journal of its own, as every instance of a real deployment must (the journal is opened
    // exclusively); a host started after the previous one was disposed takes over its journal.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> LiveHostsPerDatabase = new(StringComparer.Ordinal);
    private bool _counted;

    public TestDatabase Database { get; } = database;

    /// <summary>Every SQL command this host sends through its contexts.</summary>
    public DatabaseCommandCounter DatabaseCommands { get; } = new();

    /// <summary>Where the Development email sender writes messages.</summary>
    public string MailFolder => Path.Combine(Database.Directory, "data", "mail");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.UseSetting("App:DataDirectory", Path.Combine(Database.Directory, "data"));
        builder.UseSetting("Database:Provider", Database.Provider.ToString());
        builder.UseSetting("Database:Url", Database.Url);
        builder.UseSetting("Database:MigrateOnStartup", "true");
        builder.UseSetting("Database:StartupTimeoutSeconds", "5");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.UseSetting("ADMIN_EMAILS", "admin@example.com");
        builder.UseSetting("LoginThrottle:SlowDelayMilliseconds", "0");
        builder.UseSetting("ApiKeys:LastUsedFlushSeconds", "1");
        builder.UseSetting("Security:BcryptRounds", environment == "Production" ? "10" : "4");
        foreach (var (name, value) in TestEnvironmentVariables.StrongSecrets)
        {
            builder.UseSetting(name, value);
        }

        if (environment == "Production")
        {
            builder.UseSetting("APP_URL", "https://gateway.example.com");
        }

        var host = LiveHostsPerDatabase.AddOrUpdate(Database.Directory, 1, (_, n) => n + 1);
        _counted = true;
        if (host > 1)
        {
            builder.UseSetting("Usage:JournalPath", $"usage-journal-{Guid.NewGuid():N}.jsonl");
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(s =>
        {
            s.AddSingleton<IStartupFilter, TestEndpoints>();
            s.ConfigureDbContext<BluesMinds.Gateway.Data.SqliteGatewayDbContext>(o => o.AddInterceptors(DatabaseCommands));
            s.ConfigureDbContext<BluesMinds.Gateway.Data.PostgresGatewayDbContext>(o => o.AddInterceptors(DatabaseCommands));
        });
        if (services is not null)
        {
            builder.ConfigureTestServices(services);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_counted)
        {
            _counted = false;
            LiveHostsPerDatabase.AddOrUpdate(Database.Directory, 0, (_, n) => Math.Max(0, n - 1));
        }
    }
}

/// <summary>
/// Routes that exist only in tests, placed behind the gateway's own pipeline (so its middleware,
/// error handling and JSON options apply): a JSON echo and an endpoint that throws. A test may also
/// set the connection's remote address with <c>X-Test-Remote-Ip</c>, as a real socket would.
/// </summary>
internal sealed class TestEndpoints : IStartupFilter
{
    public const string SensitiveMessage = "boom Password=Sup3rSecretValue at Host=db.internal";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((HttpContext context, RequestDelegate nextMiddleware) =>
        {
            if (context.Request.Headers.TryGetValue("X-Test-Remote-Ip", out var ip) && IPAddress.TryParse(ip.ToString(), out var address))
            {
                context.Connection.RemoteIpAddress = address;
            }

            return nextMiddleware(context);
        });
        next(app);
        app.UseRouting();
        app.UseEndpoints(e =>
        {
            e.MapPost("/api/test/echo", (EchoRequest request) => Results.Ok(request));
            e.MapPost("/api/v1/test/echo", (EchoRequest request) => Results.Ok(request));
            e.MapGet("/api/test/throw", IResult () => throw new InvalidOperationException(SensitiveMessage));
            e.MapGet("/api/test/ok", () => Results.Ok(new { ok = true }));
        });
    };

    internal sealed record EchoRequest(string Name, int Count);
}
