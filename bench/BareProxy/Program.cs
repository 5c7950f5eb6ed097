using System.Net;
using Yarp.ReverseProxy.Forwarder;

// The floor for a .NET proxy: YARP's direct forwarder with no gateway logic at all. Requests under
// /api go to BENCH_UPSTREAM with the /api prefix removed; /stream/api and /soak/api go to
// BENCH_STREAM_UPSTREAM and BENCH_SOAK_UPSTREAM the same way (the benchmark's slower stubs).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddHttpForwarder();
var app = builder.Build();

var upstream = Environment.GetEnvironmentVariable("BENCH_UPSTREAM") ?? "http://127.0.0.1:9100";
var streamUpstream = Environment.GetEnvironmentVariable("BENCH_STREAM_UPSTREAM") ?? upstream;
var soakUpstream = Environment.GetEnvironmentVariable("BENCH_SOAK_UPSTREAM") ?? upstream;
var client = new HttpMessageInvoker(new SocketsHttpHandler
{
    UseProxy = false,
    AllowAutoRedirect = false,
    AutomaticDecompression = DecompressionMethods.None,
    UseCookies = false,
    EnableMultipleHttp2Connections = true,
    ConnectTimeout = TimeSpan.FromSeconds(5),
});
var transformer = HttpTransformer.Empty;
var config = new ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(100) };
var forwarder = app.Services.GetRequiredService<IHttpForwarder>();

foreach (var (prefix, destination) in new[] { ("/api", upstream), ("/stream/api", streamUpstream), ("/soak/api", soakUpstream) })
{
    app.Map(prefix + "/{**rest}", async (HttpContext http) =>
    {
        http.Request.Path = http.Request.Path.Value![prefix.Length..];
        await forwarder.SendAsync(http, destination, client, config, transformer);
    });
}
app.Run();
