using System.Buffers;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// How many tokens byte-pair encoding makes of one pre-tokenised piece: tiktoken's merge (always the
/// adjacent pair of lowest rank, leftmost first), counting the parts that are left.
/// </summary>
internal static class BytePairCount
{
    // Up to here the merge rescans its parts (tiktoken's own method, no allocation); beyond, a heap
    // keeps a long piece without spaces (a base64 blob in a prompt) from costing quadratic time.
    private const int ScanLimit = 128;

    public static int Count(TokenVocabulary vocabulary, ReadOnlySpan<byte> piece)
    {
        if (piece.Length <= 1)
        {
            return piece.Length;
        }

        if (vocabulary.Rank(piece) >= 0)
        {
            return 1;
        }

        return piece.Length <= ScanLimit ? CountByScan(vocabulary, piece) : CountByHeap(vocabulary, piece);
    }

    private static int CountByScan(TokenVocabulary vocabulary, ReadOnlySpan<byte> piece)
    {
        var length = piece.Length;
        Span<int> starts = stackalloc int[length + 1];
        Span<int> ranks = stackalloc int[length + 1];
        for (var i = 0; i <= length; i++)
        {
            starts[i] = i;
            ranks[i] = i + 2 <= length ? RankOrMax(vocabulary, piece[i..(i + 2)]) : int.MaxValue;
        }

        // parts[i] spans starts[i]..starts[i + 1]; ranks[i] is the rank of parts i and i + 1 merged.
        var count = length + 1;
        while (true)
        {
            var lowest = int.MaxValue;
            var at = -1;
            for (var i = 0; i < count - 1; i++)
            {
                if (ranks[i] < lowest)
                {
                    lowest = ranks[i];
                    at = i;
                }
            }

            if (at < 0)
            {
                return count - 1;
            }

            if (at > 0)
            {
                ranks[at - 1] = MergedRank(vocabulary, piece, starts, count, at - 1);
            }

            ranks[at] = MergedRank(vocabulary, piece, starts, count, at);
            starts[(at + 2)..count].CopyTo(starts[(at + 1)..]);
            ranks[(at + 2)..count].CopyTo(ranks[(at + 1)..]);
            count--;
        }
    }

    // The rank of parts i and i + 1 once part i + 1 has absorbed part i + 2.
    private static int MergedRank(TokenVocabulary vocabulary, ReadOnlySpan<byte> piece, Span<int> starts, int count, int i) =>
        i + 3 < count ? RankOrMax(vocabulary, piece[starts[i]..starts[i + 3]]) : int.MaxValue;

    private static int CountByHeap(TokenVocabulary vocabulary, ReadOnlySpan<byte> piece)
    {
        var length = piece.Length;
        var next = ArrayPool<int>.Shared.Rent(length + 1);
        var previous = ArrayPool<int>.Shared.Rent(length + 1);
        var versions = ArrayPool<int>.Shared.Rent(length + 1);
        try
        {
            // Part i starts at byte i until merged away; next/previous link the parts still alive. A
            // part's version changes whenever its pair with the next part does, which retires the
            // heap entries computed for the old pair.
            var heap = new PriorityQueue<(int Part, int Version), long>(length);
            for (var i = 0; i <= length; i++)
            {
                next[i] = i + 1;
                previous[i] = i - 1;
                versions[i] = 0;
            }

            for (var i = 0; i + 1 < length; i++)
            {
                Push(heap, vocabulary, piece, i, i + 2, 0);
            }

            var parts = length;
            while (heap.TryDequeue(out var entry, out _))
            {
                var part = entry.Part;
                if (versions[part] != entry.Version)
                {
                    continue;
                }

                var absorbed = next[part];
                var after = next[absorbed];
                next[part] = after;
                previous[after] = part;
                versions[absorbed]++;
                parts--;

                versions[part]++;
                if (after < length)
                {
                    Push(heap, vocabulary, piece, part, next[after], versions[part]);
                }

                var before = previous[part];
                if (before >= 0)
                {
                    versions[before]++;
                    Push(heap, vocabulary, piece, before, after, versions[before]);
                }
            }

            return parts;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(previous);
            ArrayPool<int>.Shared.Return(versions);
        }
    }

    private static void Push(PriorityQueue<(int Part, int Version), long> heap, TokenVocabulary vocabulary, ReadOnlySpan<byte> piece, int start, int end, int version)
    {
        var rank = vocabulary.Rank(piece[start..end]);
        if (rank >= 0)
        {
            // Lowest rank first; between equal ranks, the leftmost pair, as in the scan.
            heap.Enqueue((start, version), ((long)rank << 32) | (uint)start);
        }
    }

    private static int RankOrMax(TokenVocabulary vocabulary, ReadOnlySpan<byte> pair)
    {
        var rank = vocabulary.Rank(pair);
        return rank < 0 ? int.MaxValue : rank;
    }
}
