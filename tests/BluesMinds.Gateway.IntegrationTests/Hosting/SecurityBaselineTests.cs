using System.Net;
using System.Text;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;

namespace BluesMinds.Gateway.IntegrationTests.Hosting;

public sealed class SecurityBaselineTests
{
    private static readonly string[] SecurityHeaders =
        ["X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy", "Permissions-Policy", "X-Request-Id"];

    private static Uri Path(string path) => new(path, UriKind.Relative);

    private static void AssertSecurityHeaders(HttpResponseMessage response)
    {
        foreach (var header in SecurityHeaders)
        {
            Assert.True(response.Headers.Contains(header), $"{header} missing on {(int)response.StatusCode} {response.RequestMessage?.RequestUri}");
        }

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryResponse_SuccessOrError_CarriesTheSecurityHeaders()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["MAX_REQUEST_BODY_BYTES"] = "2048" });
        var client = app.CreateClient();

        AssertSecurityHeaders(await client.GetAsync(Path("/api/health/live")));
        AssertSecurityHeaders(await client.GetAsync(Path("/api/no-such-route")));
        AssertSecurityHeaders(await client.GetAsync(Path("/api/test/throw")));
        AssertSecurityHeaders(await client.PostAsync(Path("/api/test/echo"), new StringContent("{not json", Encoding.UTF8, "application/json")));
        AssertSecurityHeaders(await client.PostAsync(Path("/api/test/echo"), new StringContent(new string('x', 5000), Encoding.UTF8, "application/json")));
    }

    [Fact]
    public async Task RequestId_IsServerGeneratedUniqueAndIgnoresTheClientsValue()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var client = app.CreateClient();

        using var request = new HttpRequestMessage(HttpMethod.Get, Path("/api/health/live"));
        request.Headers.Add("X-Request-Id", "client-chosen-id");
        var first = await client.SendAsync(request);
        var second = await client.GetAsync(Path("/api/no-such-route"));

        var firstId = first.Headers.GetValues("X-Request-Id").Single();
        var secondId = second.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^req_[0-9a-f]{12}[A-Za-z0-9_-]{16}$", firstId);
        Assert.True(string.CompareOrdinal(firstId[..16], secondId[..16]) <= 0, "request ids sort by time");
        Assert.NotEqual(firstId, secondId);
        Assert.NotEqual("client-chosen-id", firstId);
        using var problem = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
        Assert.Equal(secondId, problem.RootElement.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task MalformedJson_Returns400ProblemDetailsSayingWhere()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsync(Path("/api/test/echo"), new StringContent("{\"name\": \"a\",, }", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(400, body.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith("The request body is not valid JSON at line 1", body.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongJsonType_Returns400NamingTheField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsync(Path("/api/test/echo"), new StringContent("{\"name\": \"a\", \"count\": \"many\"}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("$.count", body.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task NonJsonContentType_Returns415WithAClearMessage()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsync(Path("/api/test/echo"), new StringContent("name=a", Encoding.UTF8, "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("application/json", body.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MalformedJson_OnTheOpenAiRoutes_UsesTheOpenAiErrorEnvelope()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsync(Path("/api/v1/test/echo"), new StringContent("{oops", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal("invalid_json", error.GetProperty("code").GetString());
        Assert.StartsWith("The request body is not valid JSON", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
    }

    [Fact]
    public async Task OversizeBody_DeclaredLength_Returns413BeforeReading()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["MAX_REQUEST_BODY_BYTES"] = "2048" });

        var response = await app.CreateClient().PostAsync(Path("/api/test/echo"), new StringContent(new string('x', 4096), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("2048 bytes", body.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OversizeBody_OnTheOpenAiRoutes_Returns413InTheOpenAiEnvelope()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["MAX_REQUEST_BODY_BYTES"] = "2048" });

        var response = await app.CreateClient().PostAsync(Path("/api/v1/test/echo"), new StringContent(new string('x', 4096), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("request_too_large", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task UnhandledException_InProduction_Returns500WithoutExceptionTextOrStackTrace()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, environment: "Production");
        var client = app.CreateClient(new WebApplicationFactoryClientOptionsHttps());

        var response = await client.GetAsync(Path("/api/test/throw"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("Sup3rSecretValue", text, StringComparison.Ordinal);
        Assert.DoesNotContain("boom", text, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidOperationException", text, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", text, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(text);
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), body.RootElement.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Cors_ConfiguredOrigin_IsAllowedAndOthersAreNot()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["CORS_ORIGINS"] = "https://app.example.com" });
        var client = app.CreateClient();

        using var allowed = new HttpRequestMessage(HttpMethod.Options, Path("/api/health"));
        allowed.Headers.Add("Origin", "https://app.example.com");
        allowed.Headers.Add("Access-Control-Request-Method", "POST");
        using var refused = new HttpRequestMessage(HttpMethod.Options, Path("/api/health"));
        refused.Headers.Add("Origin", "https://evil.example.net");
        refused.Headers.Add("Access-Control-Request-Method", "POST");

        var allowedResponse = await client.SendAsync(allowed);
        var refusedResponse = await client.SendAsync(refused);

        Assert.Equal("https://app.example.com", allowedResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", allowedResponse.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.False(refusedResponse.Headers.Contains("Access-Control-Allow-Origin"));

        // The request itself, after its preflight: answered with the origin and the headers a page
        // may read; the same request from a client that is not a browser (no Origin) gets none.
        using var actual = new HttpRequestMessage(HttpMethod.Get, Path("/api/health"));
        actual.Headers.Add("Origin", "https://app.example.com");
        var actualResponse = await client.SendAsync(actual);
        Assert.Equal("https://app.example.com", actualResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("X-Request-Id", actualResponse.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        var plain = await client.GetAsync(Path("/api/health"));
        Assert.False(plain.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(plain.Headers.Contains("Access-Control-Expose-Headers"));
    }

    [Fact]
    public async Task Production_PlainHttp_IsRedirectedToHttpsExceptHealthProbes()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, environment: "Production");
        var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri("http://gateway.example.com") });

        var api = await client.GetAsync(Path("/api/test/ok"));
        var probe = await client.GetAsync(Path("/api/health/live"));

        Assert.Equal(HttpStatusCode.PermanentRedirect, api.StatusCode);
        Assert.Equal("https://gateway.example.com/api/test/ok", api.Headers.Location?.ToString());
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
    }

    [Fact]
    public async Task Production_Https_SendsHsts()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, environment: "Production");

        var response = await app.CreateClient(new WebApplicationFactoryClientOptionsHttps()).GetAsync(Path("/api/test/ok"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_ForwardedProto_IsBelievedOnlyFromTrustedProxies()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["TRUSTED_PROXIES"] = "10.0.0.0/8" }, environment: "Production");
        var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri("http://gateway.example.com") });

        async Task<HttpStatusCode> Send(string remoteIp)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Path("/api/test/ok"));
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Test-Remote-Ip", remoteIp);
            return (await client.SendAsync(request)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Send("10.1.2.3"));
        Assert.Equal(HttpStatusCode.PermanentRedirect, await Send("203.0.113.9"));
    }

    [Fact]
    public async Task Production_WithoutTrustedProxies_NoForwardedHeaderIsBelieved()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, environment: "Production");
        var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri("http://gateway.example.com") });

        foreach (var remoteIp in new[] { "127.0.0.1", "10.1.2.3", "203.0.113.9" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Path("/api/test/ok"));
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Test-Remote-Ip", remoteIp);
            Assert.Equal(HttpStatusCode.PermanentRedirect, (await client.SendAsync(request)).StatusCode);
        }
    }

    private sealed class WebApplicationFactoryClientOptionsHttps : Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions
    {
        public WebApplicationFactoryClientOptionsHttps()
        {
            BaseAddress = new Uri("https://gateway.example.com");
            AllowAutoRedirect = false;
        }
    }
}
