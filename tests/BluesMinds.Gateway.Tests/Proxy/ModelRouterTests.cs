using BluesMinds.Gateway.Proxy.ModelRouting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BluesMinds.Gateway.Tests.Proxy;

public sealed class ModelRouterTests
{
    private static UpstreamServer Server(string name, int priority, int weight, bool enabled = true, params string[] models) =>
        new(Guid.NewGuid(), name, new Uri($"http://{name}:4000"), null, weight, priority, models.Length == 0 ? ["gpt-4o"] : models, enabled);

    private static ModelRouter Router(UpstreamHealthRegistry health, Dictionary<string, string>? aliases = null) =>
        new(health, Options.Create(new UpstreamOptions { Aliases = aliases ?? [] }), new FakeTimeProvider(DateTimeOffset.UtcNow));

    [Fact]
    public void Candidates_OrderLowestPriorityFirstAndSkipDisabledAndUnavailable()
    {
        var health = new UpstreamHealthRegistry();
        var backup = Server("backup", 2, 100);
        var primary = Server("primary", 1, 100);
        var disabled = Server("disabled", 0, 100, enabled: false);
        var down = Server("down", 0, 100);
        health.For(down.Id).RecordCheck(false, DateTimeOffset.UtcNow, 1, "HTTP 500");
        var table = new RoutingTable([backup, primary, disabled, down]);
        var into = new List<UpstreamServer>();

        var outcome = Router(health).Candidates(table, "gpt-4o", into);

        Assert.Equal(RouteOutcome.Routed, outcome);
        Assert.Equal(["primary", "backup"], into.Select(s => s.Name));
    }

    [Fact]
    public void Candidates_UnknownModelAndNothingAvailable_AreToldApart()
    {
        var health = new UpstreamHealthRegistry();
        var table = new RoutingTable([Server("off", 1, 100, enabled: false)]);

        Assert.Equal(RouteOutcome.UnknownModel, Router(health).Candidates(table, "llama-3", []));
        Assert.Equal(RouteOutcome.NoAvailableServer, Router(health).Candidates(table, "gpt-4o", []));
    }

    [Fact]
    public void Candidates_WithinOnePriority_FollowTheWeights()
    {
        var health = new UpstreamHealthRegistry();
        var heavy = Server("heavy", 1, 300);
        var light = Server("light", 1, 100);
        var drained = Server("drained", 1, 0);
        var table = new RoutingTable([heavy, light, drained]);
        var router = Router(health);
        var firsts = 0;

        for (var i = 0; i < 4000; i++)
        {
            var into = new List<UpstreamServer>();
            router.Candidates(table, "gpt-4o", into);
            Assert.DoesNotContain(drained, into);
            firsts += into[0] == heavy ? 1 : 0;
        }

        // Expected 3000 of 4000; the band is about six standard deviations wide.
        Assert.InRange(firsts, 2840, 3160);
    }

    [Fact]
    public void ResolveAlias_MapsConfiguredNamesOnly()
    {
        var router = Router(new UpstreamHealthRegistry(), new Dictionary<string, string> { ["gpt-4"] = "gpt-4o" });

        Assert.Equal("gpt-4o", router.ResolveAlias("gpt-4"));
        Assert.Equal("gpt-4o-mini", router.ResolveAlias("gpt-4o-mini"));
    }

    [Theory]
    [InlineData("http://litellm:4000", "http://litellm:4000/v1/chat/completions", "http://litellm:4000/health/liveliness")]
    [InlineData("http://litellm:4000/", "http://litellm:4000/v1/chat/completions", "http://litellm:4000/health/liveliness")]
    [InlineData("https://api.example.com/v1", "https://api.example.com/v1/chat/completions", "https://api.example.com/health/liveliness")]
    [InlineData("https://proxy.example.com/openai", "https://proxy.example.com/openai/v1/chat/completions", "https://proxy.example.com/openai/health/liveliness")]
    public void UpstreamServer_Urls_AreBuiltFromTheBase(string baseUrl, string chat, string health)
    {
        var server = new UpstreamServer(Guid.NewGuid(), "s", new Uri(baseUrl), null, 1, 1, ["m"], true);

        Assert.Equal(chat, server.EndpointUri("chat/completions").ToString());
        Assert.Equal(chat.Replace("chat/completions", "embeddings", StringComparison.Ordinal), server.EndpointUri("embeddings").ToString());
        Assert.Equal(chat.Replace("chat/completions", "models", StringComparison.Ordinal), server.EndpointUri("models").ToString());
        Assert.Equal(health, server.RootUri("health/liveliness").ToString());
    }

    [Fact]
    public void UpstreamServer_RequestUrls_AreBuiltOnceAndFollowAChangedBase()
    {
        var server = new UpstreamServer(Guid.NewGuid(), "s", new Uri("http://litellm:4000"), null, 1, 1, ["m"], true);
        var moved = server with { BaseUri = new Uri("http://other:4000/v1") };

        Assert.Same(server.EndpointUri("chat/completions"), server.EndpointUri("chat/completions"));
        Assert.Same(server.EndpointUri("embeddings"), server.EndpointUri("embeddings"));
        Assert.Equal("http://other:4000/v1/chat/completions", moved.EndpointUri("chat/completions").ToString());
        Assert.Equal(server, server with { });
    }
}
