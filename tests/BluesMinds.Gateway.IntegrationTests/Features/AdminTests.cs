using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BluesMinds.Gateway.IntegrationTests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static BluesMinds.Gateway.IntegrationTests.Infrastructure.Accounts;

namespace BluesMinds.Gateway.IntegrationTests.Features;

public sealed class AdminTests
{
    [Fact]
    public async Task AdminRoutes_ForNonAdmins_Return403AndWithoutSession401()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var user = await SignUpUserAsync(app);
        var victim = await SignUpUserAsync(app);

        Assert.Equal(HttpStatusCode.Forbidden, (await user.Client.GetAsync(Url("/api/admin/users"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.Client.PatchAsJsonAsync(Url($"/api/admin/users/{victim.Id}"), new { status = "suspended" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.Client.DeleteAsync(Url($"/api/admin/users/{victim.Id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.Client.GetAsync(Url("/api/admin/audit-logs"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.CreateClient().GetAsync(Url("/api/admin/users"))).StatusCode);
        await using var db = database.OpenContext();
        Assert.Equal("active", (await db.Users.SingleAsync(u => u.Id == victim.Id)).Status);
    }

    [Fact]
    public async Task ListUsers_IsPagedAndSearchable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        for (var i = 0; i < 5; i++)
        {
            await SignupAsync(app.CreateClient(), $"customer{i}@acme.test", fullName: $"Acme Person {i}");
        }

        await SignupAsync(app.CreateClient(), "someone@other.test", fullName: "Zoë Müller");

        var page = await JsonAsync(await admin.Client.GetAsync(Url("/api/admin/users?page=2&page_size=2&search=ACME")));
        var byName = await JsonAsync(await admin.Client.GetAsync(Url("/api/admin/users?search=m%C3%BCller")));
        var badPage = await admin.Client.GetAsync(Url("/api/admin/users?page=0&page_size=1000"));
        var badType = await admin.Client.GetAsync(Url("/api/admin/users?page=two"));

        Assert.Equal(5, page.GetProperty("total").GetInt32());
        Assert.Equal(2, page.GetProperty("page").GetInt32());
        Assert.Equal(2, page.GetProperty("data").GetArrayLength());
        Assert.All(page.GetProperty("data").EnumerateArray(), u => Assert.EndsWith("@acme.test", u.GetProperty("email").GetString(), StringComparison.Ordinal));
        Assert.Equal("someone@other.test", byName.GetProperty("data")[0].GetProperty("email").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, badPage.StatusCode);
        var errors = (await JsonAsync(badPage)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("page", out _));
        Assert.True(errors.TryGetProperty("page_size", out _));
        Assert.Equal(HttpStatusCode.BadRequest, badType.StatusCode);
        Assert.Contains("'page'", await badType.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Suspend_StopsLoginAndSessionsAndUnsuspendRestoresLogin()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app);

        var suspend = await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { status = "suspended" });

        Assert.Equal(HttpStatusCode.OK, suspend.StatusCode);
        Assert.Equal("suspended", (await JsonAsync(suspend)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.Client.GetAsync(Url("/api/auth/me"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await LoginAsync(app.CreateClient(), user.Email)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { status = "active" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(app.CreateClient(), user.Email)).StatusCode);
    }

    [Fact]
    public async Task ChangePlan_IsStoredAndShownToTheUser()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app);

        var change = await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { plan = "pro" });

        Assert.Equal(HttpStatusCode.OK, change.StatusCode);
        Assert.Equal("pro", (await JsonAsync(await user.Client.GetAsync(Url("/api/auth/me")))).GetProperty("plan").GetString());
    }

    [Theory]
    [InlineData("{\"status\":\"banished\"}", "status must be active or suspended")]
    [InlineData("{\"plan\":\"platinum\"}", "plan must be the code of an active plan")]
    [InlineData("{}", "Give status")]
    [InlineData("{\"status\":7}", "$.status")]
    public async Task UpdateUser_BadInput_Returns400AndChangesNothing(string json, string expected)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app);

        var response = await admin.Client.PatchAsync(Url($"/api/admin/users/{user.Id}"), new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var db = database.OpenContext();
        var stored = await db.Users.SingleAsync(u => u.Id == user.Id);
        Assert.Equal(("active", 1), (stored.Status, stored.PlanId));
    }

    [Fact]
    public async Task UpdateUser_UnknownUserOrSelfSuspension_IsRefused()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");

        Assert.Equal(HttpStatusCode.NotFound, (await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{Guid.NewGuid()}"), new { status = "suspended" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{admin.Id}"), new { status = "suspended" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await admin.Client.DeleteAsync(Url($"/api/admin/users/{admin.Id}"))).StatusCode);
    }

    [Fact]
    public async Task DeleteUser_StopsLoginAndKeysAndKeepsTheAuditTrail()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app);
        await CreateKeyAsync(user.Client);

        var delete = await admin.Client.DeleteAsync(Url($"/api/admin/users/{user.Id}"));

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(app.CreateClient(), user.Email)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await user.Client.GetAsync(Url("/api/keys"))).StatusCode);
        await using var db = database.OpenContext();
        Assert.NotNull((await db.ApiKeys.SingleAsync()).RevokedAt);
        Assert.True(await db.AuditLogs.AnyAsync(a => a.TargetId == user.Id.ToString() && a.Action == "user.signup"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.Client.DeleteAsync(Url($"/api/admin/users/{user.Id}"))).StatusCode);
    }

    [Fact]
    public async Task AuditLog_RecordsEveryAccountEventWithActorTargetIpAndAgentButNoSecrets()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var admin = await SignUpUserAsync(app, "admin@example.com");
        var user = await SignUpUserAsync(app, password: "Audit-Canary-Password-1");
        var (keyId, key) = await CreateKeyAsync(user.Client);
        var rotated = (await JsonAsync(await user.Client.PostAsync(Url($"/api/keys/{keyId}/rotate"), null))).GetProperty("key").GetString()!;
        await user.Client.DeleteAsync(Url($"/api/keys/{keyId}"));
        await LoginAsync(app.CreateClient(), user.Email, "Wrong-Canary-Password-2");
        await user.Client.PostAsJsonAsync(Url("/api/auth/password"), new { current_password = "Audit-Canary-Password-1", new_password = "Audit-Canary-Password-3" });
        Assert.Equal(HttpStatusCode.NoContent, (await user.Client.PostAsync(Url("/api/auth/logout"), null)).StatusCode);
        await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { plan = "starter" });
        await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { status = "suspended" });
        await admin.Client.PatchAsJsonAsync(Url($"/api/admin/users/{user.Id}"), new { status = "active" });

        var response = await admin.Client.GetAsync(Url($"/api/admin/audit-logs?user_id={user.Id}&page_size=100"));
        var text = await response.Content.ReadAsStringAsync();
        var entries = (await JsonAsync(response)).GetProperty("data").EnumerateArray().ToList();
        var actions = entries.Select(e => e.GetProperty("action").GetString()).ToHashSet();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var expected in new[] { "user.signup", "key.created", "key.rotated", "key.revoked", "user.login_failed", "user.password_changed", "admin.user_plan_changed", "admin.user_suspended", "admin.user_unsuspended", "user.logout" })
        {
            Assert.Contains(expected, actions);
        }

        var suspension = entries.First(e => e.GetProperty("action").GetString() == "admin.user_suspended");
        Assert.Equal(admin.Id, suspension.GetProperty("actor_user_id").GetGuid());
        Assert.Equal(user.Id.ToString(), suspension.GetProperty("target_id").GetString());
        Assert.False(string.IsNullOrEmpty(suspension.GetProperty("created_at").GetString()));
        foreach (var secret in new[] { key, rotated, "Audit-Canary-Password-1", "Wrong-Canary-Password-2", "Audit-Canary-Password-3", user.Token })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        var logouts = await JsonAsync(await admin.Client.GetAsync(Url("/api/admin/audit-logs?action=user.logout")));
        Assert.Equal(1, logouts.GetProperty("total").GetInt32());
        var future = await JsonAsync(await admin.Client.GetAsync(Url($"/api/admin/audit-logs?from={DateTime.UtcNow.AddHours(1):O}")));
        Assert.Equal(0, future.GetProperty("total").GetInt32());
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.Client.GetAsync(Url("/api/admin/audit-logs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"))).StatusCode);
    }

    [Fact]
    public async Task AuditLog_KeepsIpAndUserAgentOfTheRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new GatewayApp(database);
        var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("X-Test-Remote-Ip", "203.0.113.42");
        client.DefaultRequestHeaders.UserAgent.ParseAdd("AuditTest/1.0");

        await SignupAsync(client, "agent@example.com");

        await using var db = database.OpenContext();
        var signup = await db.AuditLogs.SingleAsync(a => a.Action == "user.signup");
        Assert.Equal("203.0.113.42", signup.IpAddress);
        Assert.Equal("AuditTest/1.0", signup.UserAgent);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(signup.Details!).RootElement.ValueKind);
    }
}
