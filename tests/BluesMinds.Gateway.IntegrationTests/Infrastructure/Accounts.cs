using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace BluesMinds.Gateway.IntegrationTests.Infrastructure;

/// <summary>A signed-in user as tests drive it: an HttpClient carrying the session token.</summary>
internal sealed record SignedInUser(HttpClient Client, Guid Id, string Email, string Password, string Token, string CsrfToken);

/// <summary>The account API as a client calls it, with the field names clients rely on.</summary>
internal static class Accounts
{
    public const string Password = "Correct-Horse-42";

    public static Uri Url(string path) => new(path, UriKind.Relative);

    public static Task<HttpResponseMessage> SignupAsync(HttpClient client, string email, string password = Password, string? fullName = "Test User") =>
        client.PostAsJsonAsync(Url("/api/auth/signup"), new { email, password, full_name = fullName });

    public static Task<HttpResponseMessage> LoginAsync(HttpClient client, string email, string password = Password) =>
        client.PostAsJsonAsync(Url("/api/auth/login"), new { email, password });

    /// <summary>Signs a new user up and returns a client that sends its token as a bearer.</summary>
    public static async Task<SignedInUser> SignUpUserAsync(GatewayApp app, string? email = null, string password = Password)
    {
        email ??= $"user-{Guid.NewGuid():N}@example.com";
        var response = await SignupAsync(app.CreateClient(), email, password);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await ToSignedInAsync(app, response, email, password);
    }

    public static async Task<SignedInUser> LogInUserAsync(GatewayApp app, string email, string password = Password)
    {
        var response = await LoginAsync(app.CreateClient(), email, password);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await ToSignedInAsync(app, response, email, password);
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Creates a key and returns (id, secret).</summary>
    public static async Task<(Guid Id, string Key)> CreateKeyAsync(HttpClient client, string name = "test key", object? extra = null)
    {
        var response = await client.PostAsJsonAsync(Url("/api/keys"), extra ?? new { name });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await JsonAsync(response);
        return (body.GetProperty("id").GetGuid(), body.GetProperty("key").GetString()!);
    }

    private static async Task<SignedInUser> ToSignedInAsync(GatewayApp app, HttpResponseMessage response, string email, string password)
    {
        var body = await JsonAsync(response);
        var token = body.GetProperty("token").GetString()!;
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new SignedInUser(client, body.GetProperty("user").GetProperty("id").GetGuid(), email, password, token, body.GetProperty("csrf_token").GetString()!);
    }
}
