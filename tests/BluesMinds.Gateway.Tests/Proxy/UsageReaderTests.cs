using System.Text;
using BluesMinds.Gateway.Proxy.UsageAccounting;

namespace BluesMinds.Gateway.Tests.Proxy;

public sealed class UsageReaderTests
{
    private const string Stream =
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n" +
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n" +
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n" +
        "data: [DONE]\n\n";

    [Fact]
    public void Observe_StreamSplitAtEveryByte_ReadsUsageFromTheFinalChunk()
    {
        var reader = new UsageReader(streaming: true);
        foreach (var b in Encoding.UTF8.GetBytes(Stream))
        {
            reader.Observe([b]);
        }

        Assert.Equal(new ReportedUsage(11, 2, 13, 4), reader.Usage);
        Assert.Equal("Hello", reader.CompletionText);
        Assert.True(reader.SawDone);
        Assert.Equal(3, reader.ChunkCount);
    }

    [Fact]
    public void Observe_StreamCutBeforeUsage_KeepsTheContentSoFar()
    {
        var reader = new UsageReader(streaming: true);

        reader.Observe(Encoding.UTF8.GetBytes(Stream[..Stream.IndexOf("data: {\"choices\":[],", StringComparison.Ordinal)]));

        Assert.Null(reader.Usage);
        Assert.Equal("Hello", reader.CompletionText);
        Assert.False(reader.SawDone);
    }

    [Fact]
    public void Observe_CarriageReturnLineEndsAndMalformedEvents_AreTolerated()
    {
        var reader = new UsageReader(streaming: true);

        reader.Observe(Encoding.UTF8.GetBytes("data: {not json}\r\n\r\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":\"x\"}}\r\n\r\n"));

        Assert.Equal(new ReportedUsage(1, 0, 1, 0), reader.Usage);
    }

    [Fact]
    public void Complete_NonStreamedJson_ReadsTopLevelUsageOnly()
    {
        var reader = new UsageReader(streaming: false);
        var json = "{\"choices\":[{\"message\":{\"content\":\"Hi there\",\"usage\":{\"prompt_tokens\":999}}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}";

        reader.Observe(Encoding.UTF8.GetBytes(json[..20]));
        reader.Observe(Encoding.UTF8.GetBytes(json[20..]));
        reader.Complete();

        Assert.Equal(new ReportedUsage(5, 3, 8, 0), reader.Usage);
        Assert.Equal("Hi there", reader.NonStreamedCompletionText());
    }

    [Fact]
    public void Complete_NoUsage_LeavesUsageEmpty()
    {
        var reader = new UsageReader(streaming: false);
        reader.Observe("{\"data\":[]}"u8);

        reader.Complete();

        Assert.Null(reader.Usage);
    }

    [Fact]
    public void Observe_LongEscapedDeltasSplitAcrossReads_KeepsEveryCharacterAndTheUsage()
    {
        // Deltas over the stack buffer's 256 characters, with escapes and characters outside the BMP,
        // arriving in pieces that grow the buffer and leave half an event behind each time.
        var first = string.Concat(Enumerable.Repeat("a\\\"b\\\\c \\u00e9 ", 60));
        var second = string.Concat(Enumerable.Repeat("\\ud83d\\ude00 ", 70));
        var stream =
            "data: {\"choices\":[{\"delta\":{\"content\":\"" + first + "\"}}]}\n\n" +
            "data: {\"choices\":[{\"delta\":{\"content\":\"" + second + "\"}}]}\n\n" +
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":300,\"total_tokens\":307}}\n\n" +
            "data: [DONE]\n\n";
        var bytes = Encoding.UTF8.GetBytes(stream);
        using var reader = new UsageReader(streaming: true);
        for (var offset = 0; offset < bytes.Length; offset += 97)
        {
            reader.Observe(bytes.AsSpan(offset, Math.Min(97, bytes.Length - offset)));
        }

        var expected = string.Concat(Enumerable.Repeat("a\"b\\c \u00e9 ", 60)) + string.Concat(Enumerable.Repeat("\U0001F600 ", 70));
        Assert.Equal(expected, reader.CompletionText);
        Assert.Equal(new ReportedUsage(7, 300, 307, 0), reader.Usage);
        Assert.True(reader.SawDone);
    }

    [Fact]
    public void Complete_NonStreamedBodyInManySmallReads_ReadsTheUsageOnceWhole()
    {
        var padding = new string('x', 5000);
        var json = "{\"choices\":[{\"message\":{\"content\":\"" + padding + "\"}}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":1250,\"total_tokens\":1254}}";
        var bytes = Encoding.UTF8.GetBytes(json);
        using var reader = new UsageReader(streaming: false);
        for (var offset = 0; offset < bytes.Length; offset += 100)
        {
            reader.Observe(bytes.AsSpan(offset, Math.Min(100, bytes.Length - offset)));
        }

        reader.Complete();

        Assert.Equal(new ReportedUsage(4, 1250, 1254, 0), reader.Usage);
        Assert.Equal(padding, reader.NonStreamedCompletionText());
    }

    [Fact]
    public void Dispose_ThenNothingObserved_ReadsAsEmpty()
    {
        var reader = new UsageReader(streaming: false);
        reader.Observe("{\"usage\":{\"prompt_tokens\":1}}"u8);
        reader.Dispose();
        reader.Dispose();

        reader.Complete();

        Assert.Null(reader.Usage);
        Assert.Equal(string.Empty, reader.CompletionText);
    }
}
