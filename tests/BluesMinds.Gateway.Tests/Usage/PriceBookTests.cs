using BluesMinds.Gateway.Proxy.UsageAccounting;

namespace BluesMinds.Gateway.Tests.Usage;

public sealed class PriceBookTests
{
    // Prices in micro-dollars per million tokens.
    private static readonly TokenPrice Gpt4oMini = new(150_000, 75_000, 600_000);
    private static readonly TokenPrice Gpt4o = new(2_500_000, 1_250_000, 10_000_000);
    private static readonly TokenPrice O1 = new(15_000_000, 7_500_000, 60_000_000);
    private static readonly TokenPrice Embedding3Small = new(20_000, null, 0);

    [Fact]
    public void CostMicros_Gpt4oMini_IsExact()
    {
        // (800 x 150,000 + 200 x 75,000 + 500 x 600,000) / 1,000,000 = 435,000,000 / 1,000,000.
        Assert.Equal(435, PriceBook.CostMicros(Gpt4oMini, 1000, 200, 500));
    }

    [Fact]
    public void CostMicros_Gpt4o_IsExact()
    {
        // 234 x 2,500,000 + 1,000 x 1,250,000 + 567 x 10,000,000 = 7,505,000,000.
        Assert.Equal(7505, PriceBook.CostMicros(Gpt4o, 1234, 1000, 567));
    }

    [Fact]
    public void CostMicros_O1_IsExact()
    {
        // 3 x 15,000,000 + 7 x 60,000,000 = 465,000,000.
        Assert.Equal(465, PriceBook.CostMicros(O1, 3, 0, 7));
        // 1 x 15,000,000 + 99,999 x 7,500,000 + 1 x 60,000,000 = 750,067,500,000.
        Assert.Equal(750_068, PriceBook.CostMicros(O1, 100_000, 99_999, 1));
    }

    [Fact]
    public void CostMicros_Embedding_ChargesTheInputOnly()
    {
        // 123,456 x 20,000 = 2,469,120,000, i.e. 2,469.12 micro-dollars.
        Assert.Equal(2469, PriceBook.CostMicros(Embedding3Small, 123_456, 0, 0));
        Assert.Equal(2469, PriceBook.CostMicros(Embedding3Small, 123_456, 0, 99_999));
    }

    [Theory]
    [InlineData(499_999L, 0L)]
    [InlineData(500_000L, 1L)]
    [InlineData(1_499_999L, 1L)]
    [InlineData(1_500_000L, 2L)]
    [InlineData(2_500_000L, 3L)]
    [InlineData(3_500_000L, 4L)]
    public void CostMicros_HalfAMicroDollar_RoundsUpNotToEven(long promptTokens, long expected)
    {
        // One micro-dollar per million tokens: 500,000 tokens cost exactly 0.5.
        Assert.Equal(expected, PriceBook.CostMicros(new TokenPrice(1, null, 0), promptTokens, 0, 0));
    }

    [Fact]
    public void CostMicros_RoundsTheSumOnceNotEachPart()
    {
        // 0.3 + 0.3: rounding each part gives 0, the sum 0.6 gives 1.
        Assert.Equal(1, PriceBook.CostMicros(new TokenPrice(300_000, null, 300_000), 1, 0, 1));
        // 0.4 + 0.4 + 0.4 = 1.2.
        Assert.Equal(1, PriceBook.CostMicros(new TokenPrice(400_000, 400_000, 400_000), 2, 1, 1));
        // 0.25 x 6 = 1.5 rounds up to 2; parts rounded separately would give 0.
        Assert.Equal(2, PriceBook.CostMicros(new TokenPrice(250_000, 250_000, 250_000), 4, 2, 2));
    }

    [Fact]
    public void CostMicros_LargeTokenCountsAndPrices_DoNotOverflow()
    {
        const long Price = 1_000_000_000_000; // a million dollars per million tokens

        Assert.Equal(2_000_000_000_000_000, PriceBook.CostMicros(new TokenPrice(Price, Price, Price), 2_000_000_000, 0, 0));
        // (2^31 - 1 - (2^30 - 1)) x 1e12 + (2^30 - 1) x 5e11 + (2^31 - 1) x 1e12 = 3,758,096,382.5e12.
        Assert.Equal(3_758_096_382_500_000, PriceBook.CostMicros(new TokenPrice(Price, Price / 2, Price), int.MaxValue, int.MaxValue / 2, int.MaxValue));
        // 9e12 tokens x 1e12 = 9e24 in the numerator, 9e18 micro-dollars: still a long.
        Assert.Equal(9_000_000_000_000_000_000, PriceBook.CostMicros(new TokenPrice(0, null, Price), 0, 0, 9_000_000_000_000));
    }

    [Fact]
    public void CostMicros_CachedAbovePrompt_IsClampedToThePrompt()
    {
        var price = new TokenPrice(1_000_000, 500_000, 0);

        // All 100 prompt tokens at the cached price; the 50 extra cached tokens are not charged.
        Assert.Equal(50, PriceBook.CostMicros(price, 100, 150, 0));
        Assert.Equal(0, PriceBook.CostMicros(price, 0, 10, 0));
        // Negative cached tokens count as none.
        Assert.Equal(100, PriceBook.CostMicros(price, 100, -5, 0));
    }

    [Fact]
    public void CostMicros_NoCachedPrice_ChargesCachedTokensAtTheInputPrice()
    {
        Assert.Equal(3000, PriceBook.CostMicros(new TokenPrice(3_000_000, null, 0), 1000, 400, 0));
        Assert.Equal(2400, PriceBook.CostMicros(new TokenPrice(3_000_000, 1_500_000, 0), 1000, 400, 0));
        // A cached price of 0 is a price: cached tokens are free.
        Assert.Equal(1800, PriceBook.CostMicros(new TokenPrice(3_000_000, 0, 0), 1000, 400, 0));
    }

    [Fact]
    public void CostMicros_NoTokens_CostsNothing()
    {
        Assert.Equal(0, PriceBook.CostMicros(Gpt4o, 0, 0, 0));
        Assert.Equal(0, PriceBook.CostMicros(default, 1_000_000, 500, 1_000_000));
    }

    [Fact]
    public void CostMicros_RecordOfAnUnpricedModel_CostsNothing()
    {
        var book = new PriceBook(null!);

        var cost = book.CostMicros(new UsageRecord { RequestId = "r", Endpoint = "/v1/chat/completions", ModelRequested = "gpt-4o", PromptTokens = 1000, CompletionTokens = 1000 });

        Assert.Equal(0, cost);
    }
}
