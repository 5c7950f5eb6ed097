using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using BluesMinds.Gateway.Proxy.UsageAccounting;
using Microsoft.ML.Tokenizers;

namespace BluesMinds.Gateway.Tests.Usage;

/// <summary>
/// The gateway counts o200k_base tokens with its own compact ranks; Microsoft.ML.Tokenizers is the
/// reference every count must equal.
/// </summary>
public sealed class TokenCounterTests
{
    private static readonly TokenCounter Counter = new();
    private static readonly Lazy<Tokenizer> Reference = new(() => TiktokenTokenizer.CreateForEncoding("o200k_base"));

    public static TheoryData<string> Samples =>
    [
        "",
        "Hello, world!",
        "I'm sure they'LL say it's fine; we've DONE what we'd planned, haven't we?",
        "CamelCaseWords and ALLCAPS and mIxEd CaSe, URLsAndHTTPRequests",
        "public static async Task<int> MainAsync(string[] args)\r\n{\r\n\treturn await Task.FromResult(42);\r\n}\r\n",
        "def f(x):\n    if x > 3:\n        return [i ** 2 for i in range(x)]\n\n\n    return None  \n",
        "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":256}",
        "1234567890 3.14159 1,000,000 0x7FFF_FFFF 2026-11-26T10:45:00Z",
        "   leading and trailing   ",
        "\n\n\n\t \t\n  \r\n",
        "今日は良い天気ですね。我们明天去北京吧！안녕하세요, 세계.",
        "مرحبا بالعالم — Привет, мир! — नमस्ते दुनिया — Γειά σου Κόσμε",
        "e\u0301te\u0301 cafe\u0301 na\u0308ive (decomposed) and été café naïve (composed)",
        "👩‍👩‍👧‍👦 🇫🇷🇯🇵 👍🏽 ❤️‍🔥 emoji sequences",
        "the replacement \ufffd char",
        "https://example.com/path/to/page?query=1&other=two#fragment /usr/local/bin//",
        new string('a', 1000),
        new string(' ', 300) + "x",
        string.Concat(Enumerable.Repeat("ab1 ", 200)),
    ];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Count_EqualsTheReferenceTokenizer(string text)
    {
        Assert.Equal(Reference.Value.CountTokens(text), Counter.Count(text));
    }

    [Fact]
    public void Count_SpecialTokensInTheText_AreText()
    {
        // A client's "<|endoftext|>" is text to the upstream. The reference counts it as one token
        // while it sits in its word cache and as text once evicted, so the reference here is the same
        // tokenizer without special tokens.
        using var ranks = new DeflateStream(Assembly.Load("Microsoft.ML.Tokenizers.Data.O200kBase").GetManifestResourceStream("o200k_base.tiktoken.deflate")!, CompressionMode.Decompress);
        var plain = TiktokenTokenizer.Create(ranks, new RegexPreTokenizer(new Regex(TokenCounter.Pattern), null), normalizer: null);
        foreach (var text in new[] { "<|endoftext|>", "a<|endoftext|>b <|endofprompt|><|endoftext|> <|notspecial|> <| <|endoftext" })
        {
            Assert.Equal(plain.CountTokens(text), Counter.Count(text));
        }

        Assert.Equal(7, Counter.Count("<|endoftext|>"));
    }

    [Fact]
    public void Count_EqualsTheReferenceTokenizer_OnRandomText()
    {
        // Characters from every class the pre-tokeniser tells apart, in random runs: letters of both
        // cases and several scripts, marks, digits, punctuation, whitespace of each kind, emoji.
        const string Alphabet = "abcxyzABCXYZ éÉßøæ ÀÖ日本語中文한국어абвГДЕ αβγ ١٢٣ ०१२ 0123456789 .,;:!?'\"-_/\\()[]{}<>|@#$%^&*+=~` \t\n\r\u00a0\u2003\u0301\u0308 😀🚀👍🏽";
        var random = new Random(20261126);
        var runes = Alphabet.EnumerateRunes().ToArray();
        for (var sample = 0; sample < 400; sample++)
        {
            var builder = new StringBuilder();
            var length = random.Next(0, 300);
            while (builder.Length < length)
            {
                var rune = runes[random.Next(runes.Length)];
                builder.Append(rune.ToString(), 0, rune.Utf16SequenceLength).Append(rune.ToString(), 0, random.Next(4) == 0 ? rune.Utf16SequenceLength : 0);
            }

            var text = builder.ToString();
            Assert.True(Reference.Value.CountTokens(text) == Counter.Count(text), $"sample {sample}: \"{text}\"");
        }
    }

    [Fact]
    public void Count_EqualsTheReferenceTokenizer_OnLongPiecesWithoutSpaces()
    {
        // Pieces longer than the scan limit take the heap: base64 blobs, runs of one letter, hex.
        var random = new Random(7);
        for (var sample = 0; sample < 40; sample++)
        {
            var bytes = new byte[random.Next(100, 3000)];
            random.NextBytes(bytes);
            var base64 = Convert.ToBase64String(bytes);
            var letters = new string([.. bytes.Select(b => (char)('a' + (b % 26)))]);
            var hex = Convert.ToHexStringLower(bytes);
            foreach (var text in new[] { base64, letters, hex, letters.ToUpperInvariant() })
            {
                Assert.True(Reference.Value.CountTokens(text) == Counter.Count(text), $"sample {sample}, {text.Length} chars: {text[..40]}…");
            }
        }
    }

    [Fact]
    public void Vocabulary_FindsEveryTokenOfTheDataFile_AtItsRank()
    {
        var vocabulary = TokenVocabulary.LoadO200kBase();
        using var resource = Assembly.Load("Microsoft.ML.Tokenizers.Data.O200kBase").GetManifestResourceStream("o200k_base.tiktoken.deflate")!;
        using var reader = new StreamReader(new DeflateStream(resource, CompressionMode.Decompress));
        Assert.StartsWith("Capacity: ", reader.ReadLine(), StringComparison.Ordinal);
        var lines = 0;
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            Assert.Equal(lines, vocabulary.Rank(Convert.FromBase64String(line)));
            lines++;
        }

        Assert.True(lines > 199_000, $"{lines} ranks read");
        Assert.Equal(lines, vocabulary.Count);
        Assert.Equal(-1, vocabulary.Rank("not one token at all"u8));
    }

    [Theory]
    [InlineData("aGk= 0\naGVsbG8=\n")]
    [InlineData("aGk= 0\naGVsbG8= -1\n")]
    [InlineData("aGk= 0\nnot*base64 3\n")]
    [InlineData("aGk=\naGVsbG8= 3\n")]
    [InlineData("aGk=\nnot*base64\n")]
    [InlineData("aGk=\n aGVsbG8=\n")]
    public void Vocabulary_RefusesMalformedLines(string text)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        var error = Assert.Throws<InvalidDataException>(() => TokenVocabulary.Load(stream));
        Assert.Contains("Line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Vocabulary_RefusesARankItsLookupTableCannotHold()
    {
        // A slot keeps 20 bits of rank: a larger one must stop the load, not come back truncated.
        using var stream = new MemoryStream("aGk= 0\nYQ== 1048576\n"u8.ToArray());
        var error = Assert.Throws<InvalidDataException>(() => TokenVocabulary.Load(stream));
        Assert.Contains("Token 1", error.Message, StringComparison.Ordinal);

        using var largest = new MemoryStream("aGk= 0\nYQ== 1048575\n"u8.ToArray());
        Assert.Equal(1_048_575, TokenVocabulary.Load(largest).Rank("a"u8));
    }

    [Fact]
    public void Vocabulary_ReadsBothLayouts()
    {
        using var ranked = new MemoryStream("aGk= 7\n\nYQ== 3\n"u8.ToArray());
        var byRank = TokenVocabulary.Load(ranked);
        Assert.Equal(7, byRank.Rank("hi"u8));
        Assert.Equal(3, byRank.Rank("a"u8));

        using var byLine = new MemoryStream("Capacity: 3\naGk=\n\nYQ==\n"u8.ToArray());
        var numbered = TokenVocabulary.Load(byLine);
        Assert.Equal(0, numbered.Rank("hi"u8));
        Assert.Equal(2, numbered.Rank("a"u8));
        Assert.Equal(-1, numbered.Rank("b"u8));
    }

    [Fact]
    public void CountChatPrompt_CountsEveryStringOfEveryMessage_PlusTheChatOverhead()
    {
        var body = """
            {"model":"gpt-4o","temperature":0.5,"messages":[
              {"role":"system","content":"You are terse."},
              {"role":"user","content":[{"type":"text","text":"caf\u00e9\nau lait, \"please\""}]}
            ],"stop":["not counted"]}
            """u8;

        // 3 for the reply, 3 per message, then each string in the messages, escapes undone.
        var expected = 3 + (2 * 3)
            + Counter.Count("system") + Counter.Count("You are terse.")
            + Counter.Count("user") + Counter.Count("text") + Counter.Count("café\nau lait, \"please\"");
        Assert.Equal(expected, Counter.CountChatPrompt(body));
        Assert.Equal(Reference.Value.CountTokens("café\nau lait, \"please\""), Counter.Count("café\nau lait, \"please\""));
    }

    [Fact]
    public void CountChatPrompt_LongEscapedStrings_AreCountedWhole()
    {
        var content = string.Concat(Enumerable.Repeat("line \"quoted\" é\n", 500));
        var body = Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content } } }));
        Assert.Equal(3 + 3 + Counter.Count("user") + Reference.Value.CountTokens(content), Counter.CountChatPrompt(body));
    }

    [Fact]
    public void CountChatPrompt_LoneSurrogateEscape_IsCountedAsWritten()
    {
        // Valid JSON that .NET refuses to decode: counted as its escaped text, never an error.
        var body = """{"messages":[{"role":"user","content":"hi \ud800 there"}]}"""u8;
        Assert.Equal(3 + 3 + Counter.Count("user") + Counter.Count("hi \\ud800 there"), Counter.CountChatPrompt(body));
    }

    [Fact]
    public void CountEmbeddingInput_StringArrayAndTokenIds()
    {
        Assert.Equal(Counter.Count("the quick brown fox"), Counter.CountEmbeddingInput("""{"model":"e","input":"the quick brown fox"}"""u8));
        Assert.Equal(Counter.Count("one") + Counter.Count("two words"), Counter.CountEmbeddingInput("""{"input":["one","two words"],"model":"e"}"""u8));
        Assert.Equal(4, Counter.CountEmbeddingInput("""{"input":[1,2,3,4]}"""u8));
        Assert.Equal(0, Counter.CountEmbeddingInput("""{"model":"e"}"""u8));
    }
}
