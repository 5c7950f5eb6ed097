using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using BluesMinds.Gateway.Data.Entities;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Features;

public sealed class AccountFlowTests
{
    [Fact]
    public async Task Signup_ChecklistExample_Returns201WithUserTokenAndSessionCookie()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await SignupAsync(app.CreateClient(), "Test@Example.com ", "Test123!", "Test User");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await JsonAsync(response);
        var user = body.GetProperty("user");
        Assert.Equal("test@example.com", user.GetProperty("email").GetString());
        Assert.Equal("Test User", user.GetProperty("full_name").GetString());
        Assert.Equal("user", user.GetProperty("role").GetString());
        Assert.Equal("free", user.GetProperty("plan").GetString());
        Assert.False(user.TryGetProperty("password_hash", out _));
        Assert.Equal(3, body.GetProperty("token").GetString()!.Split('.').Length);
        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        var session = Assert.Single(cookies, c => c.StartsWith("bm_session=", StringComparison.Ordinal));
        Assert.Contains("httponly", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(cookies, c => c.StartsWith("bm_csrf=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signup_InProduction_SetsASecureCookie()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, environment: "Production");
        var client = app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://gateway.example.com") });

        var response = await SignupAsync(client, "secure@example.com");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("bm_session=", StringComparison.Ordinal) && c.Contains("secure", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Signup_DuplicateEmailInAnyCase_Returns409AndStoresNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        await SignUpUserAsync(app, "dup@example.com");

        var response = await SignupAsync(app.CreateClient(), "  DUP@Example.COM");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        await using var db = database.OpenContext();
        Assert.Equal(1, await db.Users.CountAsync());
    }

    [Theory]
    [InlineData("short1!", "at least 8 characters")]
    [InlineData("Password123", "too common")]
    [InlineData("aaaaaaaaaa", "too common")]
    [InlineData("weak@example.com", "must not be your email address")]
    public async Task Signup_WeakPassword_Returns400NamingTheRule(string password, string rule)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await SignupAsync(app.CreateClient(), "weak@example.com", password);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Contains(rule, body.GetProperty("errors").GetProperty("password")[0].GetString(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        Assert.Equal(0, await db.Users.CountAsync());
    }

    public static TheoryData<string, string> BadSignupBodies => new()
    {
        { "{\"email\":\"a@example.com\",\"password\":", "not valid JSON" },
        { "{}", "email is required" },
        { "{\"email\":\"a@example.com\"}", "password is required" },
        { "{\"email\":\"not-an-email\",\"password\":\"Correct-Horse-42\"}", "email must be an address" },
        { "{\"email\":\"a@b\",\"password\":\"Correct-Horse-42\"}", "domain that is not a valid host name" },
        { "{\"email\":\"jos\u00e9@example.com\",\"password\":\"Correct-Horse-42\"}", "not allowed before the @" },
        { "{\"email\":\"" + new string('a', 250) + "@example.com\",\"password\":\"Correct-Horse-42\"}", "at most 64 characters before the @" },
        { "{\"email\":\"a@example.com\",\"password\":\"Correct-Horse-42\",\"full_name\":\"" + new string('n', 201) + "\"}", "at most 200 characters" },
        { "{\"email\":\"a@example.com\",\"password\":\"Correct-Horse-42\",\"full_name\":\"Eve\\u0000\"}", "control or invisible" },
        { "{\"email\":\"a@example.com\",\"password\":\"Correct-Horse-42\",\"full_name\":\"abc\\u202Efdp.exe\"}", "control or invisible" },
        { "{\"email\":\"a@example.com\",\"password\":\"Correct-Horse-42\",\"full_name\":\"bad \\ud800 surrogate\"}", "not valid JSON" },
        { "{\"email\":\"a@example.com\",\"password\":\"" + new string('\u00e9', 40) + "\"}", "at most 72 bytes" },
        { "{\"email\":42,\"password\":\"Correct-Horse-42\"}", "$.email" },
        { "[1,2,3]", "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadSignupBodies))]
    public async Task Signup_BadInput_Returns400WithAClearMessageAndStoresNothing(string json, string expected)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsync(Url("/api/auth/signup"), new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        Assert.Equal(0, await db.Users.CountAsync());
        Assert.Equal(0, await db.UserSessions.CountAsync());
    }

    [Fact]
    public async Task Signup_UnicodeName_IsStoredNormalised()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        // "e" + combining acute accent, and an emoji outside the BMP.
        var response = await SignupAsync(app.CreateClient(), "unicode@example.com", fullName: "Jose\u0301 \U0001F600 \u5F20\u4F1F");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await using var db = database.OpenContext();
        Assert.Equal("Jos\u00e9 \U0001F600 \u5F20\u4F1F", (await db.Users.SingleAsync()).FullName);
    }

    [Fact]
    public async Task Signup_Disabled_Returns403()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["FEATURE_SIGNUP"] = "false" });

        var response = await SignupAsync(app.CreateClient(), "nope@example.com");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Login_WrongPasswordAndUnknownEmail_GetTheSame401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        await SignUpUserAsync(app, "known@example.com");

        var wrongPassword = await LoginAsync(app.CreateClient(), "known@example.com", "Not-The-Password-1");
        var unknownEmail = await LoginAsync(app.CreateClient(), "unknown@example.com", "Not-The-Password-1");

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownEmail.StatusCode);
        Assert.Equal((await JsonAsync(wrongPassword)).GetProperty("detail").GetString(), (await JsonAsync(unknownEmail)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Login_EmailInAdminEmails_GetsAdminRoleReevaluatedAtEachLogin()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using (var app = new GatewayApp(database))
        {
            var admin = await SignUpUserAsync(app, "Admin@Example.com");
            var me = await JsonAsync(await admin.Client.GetAsync(Url("/api/auth/me")));
            Assert.Equal("admin", me.GetProperty("role").GetString());
        }

        // The operator removes the address from ADMIN_EMAILS and restarts.
        await using var restarted = new GatewayApp(database, new Dictionary<string, string?> { ["ADMIN_EMAILS"] = "someone-else@example.com" });
        var login = await LoginAsync(restarted.CreateClient(), "admin@example.com");

        Assert.Equal("user", (await JsonAsync(login)).GetProperty("user").GetProperty("role").GetString());
        await using var db = database.OpenContext();
        Assert.Equal(1, await db.AuditLogs.CountAsync(a => a.Action == "user.role_changed"));
    }

    [Fact]
    public async Task Me_WithoutSession_Returns401ProblemDetails()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var client = app.CreateClient();

        var none = await client.GetAsync(Url("/api/auth/me"));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.jwt");
        var garbage = await client.GetAsync(Url("/api/auth/me"));

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, garbage.StatusCode);
        Assert.Equal("application/problem+json", garbage.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Logout_RevokesTheTokenServerSide()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        var logout = await user.Client.PostAsync(Url("/api/auth/logout"), null);
        var after = await user.Client.GetAsync(Url("/api/auth/me"));

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task ChangePassword_EndsOtherSessionsKeepsThisOneAndReplacesThePassword()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var otherDevice = await LogInUserAsync(app, user.Email);

        var wrong = await user.Client.PostAsJsonAsync(Url("/api/auth/password"), new { current_password = "Wrong-Password-9", new_password = "Brand-New-Secret-7" });
        var change = await user.Client.PostAsJsonAsync(Url("/api/auth/password"), new { current_password = user.Password, new_password = "Brand-New-Secret-7" });

        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Contains("current_password", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await otherDevice.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(app.CreateClient(), user.Email, user.Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), user.Email, "Brand-New-Secret-7")).StatusCode);
    }

    [Fact]
    public async Task PasswordReset_EmailedTokenWorksOnceAndEndsEverySession()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        var request = await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset"), new { email = user.Email.ToUpperInvariant() });
        var token = await ReadResetTokenAsync(app);
        var confirm = await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset/confirm"), new { token, password = "Reset-Password-55" });
        var reuse = await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset/confirm"), new { token, password = "Another-Password-66" });

        Assert.Equal(HttpStatusCode.Accepted, request.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, confirm.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, reuse.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), user.Email, "Reset-Password-55")).StatusCode);
        await using var db = database.OpenContext();
        Assert.DoesNotContain(token, string.Join(",", (await db.PasswordResetTokens.ToListAsync()).Select(t => Convert.ToBase64String(t.TokenHash))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PasswordReset_ExpiredToken_IsRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset"), new { email = user.Email });
        var token = await ReadResetTokenAsync(app);
        await using (var db = database.OpenContext())
        {
            await db.PasswordResetTokens.ExecuteUpdateAsync(s => s.SetProperty(t => t.ExpiresAt, DateTime.UtcNow.AddMinutes(-1)));
        }

        var confirm = await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset/confirm"), new { token, password = "Reset-Password-55" });

        Assert.Equal(HttpStatusCode.BadRequest, confirm.StatusCode);
        Assert.Contains("expired", await confirm.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), user.Email, user.Password)).StatusCode);
    }

    [Fact]
    public async Task PasswordReset_UnknownEmail_AnswersTheSameAndSendsNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);

        var response = await app.CreateClient().PostAsJsonAsync(Url("/api/auth/password-reset"), new { email = "ghost@example.com" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.False(Directory.Exists(app.MailFolder) && Directory.EnumerateFiles(app.MailFolder).Any());
    }

    [Fact]
    public async Task Login_RepeatedFailuresForOneAccount_AreRefusedWith429UntilTheWindowEnds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(app.CreateClient(), user.Email, "Wrong-Password-1")).StatusCode);
        }

        var locked = await LoginAsync(app.CreateClient(), user.Email, user.Password);

        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.True(int.Parse(locked.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(HttpStatusCode.Created, (await SignupAsync(app.CreateClient(), "other@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), "other@example.com")).StatusCode);
    }

    [Fact]
    public async Task Login_SuccessBeforeTheLimit_ResetsTheAccountCount()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);

        for (var round = 0; round < 2; round++)
        {
            for (var i = 0; i < 4; i++)
            {
                Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(app.CreateClient(), user.Email, "Wrong-Password-1")).StatusCode);
            }

            Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), user.Email)).StatusCode);
        }
    }

    [Fact]
    public async Task Login_RepeatedFailuresFromOneIp_AreRefusedAcrossAccounts()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["LoginThrottle:IpLimit"] = "6" });
        await SignUpUserAsync(app, "victim@example.com");

        HttpClient FromAttacker()
        {
            var client = app.CreateClient();
            client.DefaultRequestHeaders.Add("X-Test-Remote-Ip", "198.51.100.7");
            return client;
        }

        for (var i = 0; i < 6; i++)
        {
            await LoginAsync(FromAttacker(), $"guess-{i}@example.com", "Wrong-Password-1");
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await LoginAsync(FromAttacker(), "victim@example.com")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), "victim@example.com")).StatusCode);
    }

    [Fact]
    public async Task Login_AfterSomeFailures_IsSlowedDown()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database, new Dictionary<string, string?> { ["LoginThrottle:SlowDelayMilliseconds"] = "400", ["LoginThrottle:SlowAfter"] = "1" });
        var user = await SignUpUserAsync(app);
        await LoginAsync(app.CreateClient(), user.Email, "Wrong-Password-1");

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var second = await LoginAsync(app.CreateClient(), user.Email, "Wrong-Password-1");

        Assert.Equal(HttpStatusCode.Unauthorized, second.StatusCode);
        Assert.True(watch.ElapsedMilliseconds >= 350, $"the second failure answered after {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task CookieSession_StateChangeWithoutCsrfToken_IsRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var browser = app.CreateClient();
        var signup = await SignupAsync(browser, "browser@example.com");
        var csrf = (await JsonAsync(signup)).GetProperty("csrf_token").GetString()!;
        var other = await SignUpUserAsync(app);

        var me = await browser.GetAsync(Url("/api/auth/me"));
        var without = await browser.PostAsJsonAsync(Url("/api/keys"), new { name = "no token" });
        using var wrongToken = new HttpRequestMessage(HttpMethod.Post, Url("/api/keys")) { Content = JsonContent.Create(new { name = "stolen token" }) };
        wrongToken.Headers.Add("X-CSRF-Token", other.CsrfToken);
        var withWrong = await browser.SendAsync(wrongToken);
        using var rightToken = new HttpRequestMessage(HttpMethod.Post, Url("/api/keys")) { Content = JsonContent.Create(new { name = "with token" }) };
        rightToken.Headers.Add("X-CSRF-Token", csrf);
        var withRight = await browser.SendAsync(rightToken);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, without.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, withWrong.StatusCode);
        Assert.Equal(HttpStatusCode.Created, withRight.StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await other.Client.PostAsJsonAsync(Url("/api/keys"), new { name = "bearer needs no token" })).StatusCode);
        await using var db = database.OpenContext();
        Assert.Equal(["bearer needs no token", "with token"], (await db.ApiKeys.Select(k => k.Name).ToListAsync()).Order());
    }

    [Fact]
    public async Task SuspendedUser_CannotLogInAndOpenSessionsEnd()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        await using (var db = database.OpenContext())
        {
            await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.Status, UserStatuses.Suspended));
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await LoginAsync(app.CreateClient(), user.Email)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
    }

    private static async Task<string> ReadResetTokenAsync(GatewayApp app)
    {
        var file = Assert.Single(Directory.EnumerateFiles(app.MailFolder, "*.eml"));
        var text = await File.ReadAllTextAsync(file);
        var match = System.Text.RegularExpressions.Regex.Match(text, @"reset-password\?token=([A-Za-z0-9_-]+)");
        Assert.True(match.Success, "the email holds a reset link");
        return match.Groups[1].Value;
    }
}
