using System.Text;
using BluesMinds.Gateway.Proxy.Forwarding;

namespace BluesMinds.Gateway.Tests.Proxy;

public sealed class RequestPeekTests
{
    private static RequestPeek Chat(string json) => RequestPeek.Read(Encoding.UTF8.GetBytes(json), ProxyOperation.ChatCompletions);

    [Fact]
    public void Read_ValidChatRequest_ExtractsModelStreamAndMaxTokens()
    {
        var peek = Chat("""{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"tools":[{"type":"function","function":{"name":"f","parameters":{"model":"decoy"}}}],"model":"gpt-4o","stream":true,"max_tokens":256,"n":2}""");

        Assert.Null(peek.Problem);
        Assert.Equal("gpt-4o", peek.Model);
        Assert.True(peek.Stream);
        Assert.Equal(256, peek.MaxTokens);
    }

    [Fact]
    public void Read_MaxCompletionTokens_CountsAsMaxTokens()
    {
        Assert.Equal(99, Chat("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":99}""").MaxTokens);
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model", "missing_required_parameter")]
    [InlineData("""{"model":"m"}""", "messages", "missing_required_parameter")]
    [InlineData("""{"model":"m","messages":"hi"}""", "messages", "invalid_value")]
    [InlineData("""{"model":"m","messages":[]}""", "messages", "invalid_value")]
    [InlineData("""{"model":"m","messages":["hi"]}""", "messages", "invalid_value")]
    [InlineData("""{"model":42,"messages":[{"role":"user"}]}""", "model", "invalid_value")]
    [InlineData("""{"model":"","messages":[{"role":"user"}]}""", "model", "invalid_value")]
    [InlineData("""{"model":{"a":1},"messages":[{"role":"user"}]}""", "model", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"n":0}""", "n", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"n":129}""", "n", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"n":1.5}""", "n", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"max_tokens":0}""", "max_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"max_tokens":"many"}""", "max_tokens", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}],"stream":"yes"}""", "stream", "invalid_value")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]""", null, "invalid_json")]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]} trailing""", null, "invalid_json")]
    [InlineData("""[{"model":"m"}]""", null, "invalid_json")]
    [InlineData("", null, "invalid_json")]
    public void Read_BadChatRequest_NamesTheParameter(string json, string? param, string code)
    {
        var problem = Chat(json).Problem;

        Assert.NotNull(problem);
        Assert.Equal(param, problem.Param);
        Assert.Equal(code, problem.Code);
    }

    [Theory]
    [InlineData("""{"model":"e","input":"hello"}""", null)]
    [InlineData("""{"model":"e","input":["a","b"]}""", null)]
    [InlineData("""{"model":"e"}""", "input")]
    [InlineData("""{"model":"e","input":5}""", "input")]
    [InlineData("""{"model":"e","input":"x","stream":true}""", "stream")]
    public void Read_Embeddings_RequiresInput(string json, string? param)
    {
        var problem = RequestPeek.Read(Encoding.UTF8.GetBytes(json), ProxyOperation.Embeddings).Problem;

        Assert.Equal(param, problem?.Param);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}]}""", 1)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"n":null}""", 1)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"n":1}""", 1)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}""", 3)]
    [InlineData("""{"n":3,"model":"m","messages":[{"role":"user","content":"x"}]}""", 3)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"n":128}""", 128)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x","n":5}],"tools":[{"n":7}],"n":4}""", 4)]
    public void Read_Choices_IsTheNParameterAndDefaultsToOne(string json, int choices)
    {
        var peek = Chat(json);

        Assert.Null(peek.Problem);
        Assert.Equal(choices, peek.Choices);
    }

    [Fact]
    public void Read_NestedNOnly_LeavesChoicesAtOne()
    {
        var peek = Chat("""{"model":"m","messages":[{"role":"user","content":"x","n":5}],"metadata":{"n":9}}""");

        Assert.Null(peek.Problem);
        Assert.Equal(1, peek.Choices);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("129")]
    [InlineData("1.5")]
    [InlineData("2147483648")]
    [InlineData("\"3\"")]
    [InlineData("true")]
    [InlineData("[2]")]
    [InlineData("{\"value\":2}")]
    public void Read_InvalidChoices_IsTheExistingProblemAndLeavesChoicesAtOne(string n)
    {
        var peek = Chat("{\"n\":" + n + ",\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":7}");

        Assert.Equal(new PeekProblem("Invalid value for 'n': n must be an integer from 1 to 128.", "n", "invalid_value"), peek.Problem);
        Assert.Equal(1, peek.Choices);
        // The rest of the body is still read past the bad value.
        Assert.Equal("m", peek.Model);
        Assert.Equal(7, peek.MaxTokens);
    }

    [Fact]
    public void Read_Embeddings_ChoicesDefaultsToOne()
    {
        var peek = RequestPeek.Read("""{"model":"e","input":"hello"}"""u8, ProxyOperation.Embeddings);

        Assert.Null(peek.Problem);
        Assert.Equal(1, peek.Choices);
    }
}
