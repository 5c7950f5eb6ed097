using BluesMinds.Gateway.Features.Accounts;
using BluesMinds.Gateway.Features.Accounts.Sessions;
using BluesMinds.Gateway.Features.Admin;
using BluesMinds.Gateway.Features.ApiKeys;
using BluesMinds.Gateway.Features.Pricing;
using BluesMinds.Gateway.Features.Upstreams;
using BluesMinds.Gateway.Features.Usage;
using BluesMinds.Gateway.Hosting;
using BluesMinds.Gateway.Hosting.Configuration;
using BluesMinds.Gateway.Hosting.Database;
using BluesMinds.Gateway.Hosting.Health;
using BluesMinds.Gateway.Hosting.Http;
using BluesMinds.Gateway.Hosting.Logging;
using BluesMinds.Gateway.Hosting.Redis;
using BluesMinds.Gateway.Hosting.Settings;
using BluesMinds.Gateway.Proxy;
using BluesMinds.Gateway.Proxy.ApiKeyAuthentication;

// `migrate` applies the database migrations and exits; anything else serves.
var command = args.FirstOrDefault() == MigrateCommand.Name ? MigrateCommand.Name : null;
var builder = WebApplication.CreateBuilder(command is null ? args : args[1..]);

var developmentSecrets = builder.AddGatewayConfiguration();
InlineSocketIo.Configure(builder);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddGatewaySettings(builder.Configuration);
builder.AddGatewayLogging();
builder.AddGatewayDatabase();
builder.AddGatewayRedis();
builder.AddGatewayHealth();
builder.AddGatewayHttp();
builder.AddAccounts();
builder.AddApiKeyResolution();
builder.AddProxy();

var app = builder.Build();

if (command == MigrateCommand.Name)
{
    return await MigrateCommand.RunAsync(app);
}

if (!StartupProblems.Check(app.Services, Console.Error))
{
    return 1;
}

var startup = new Startup(app, developmentSecrets);
if (!await startup.PrepareAsync())
{
    return 1;
}

app.UseGatewayHttp();
app.UseSessionAuthentication();

app.MapHealthEndpoints();
app.MapAccounts();
app.MapApiKeys();
app.MapAdminUsers();
app.MapAuditLogs();
app.MapAdminUsage();
app.MapRateLimits();
app.MapPricing();
app.MapUsage();
app.MapUpstreams();
app.MapProxy();

await app.RunAsync();
return 0;
