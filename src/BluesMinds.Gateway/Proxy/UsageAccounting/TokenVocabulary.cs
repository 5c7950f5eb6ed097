using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace BluesMinds.Gateway.Proxy.UsageAccounting;

/// <summary>
/// The o200k_base ranks (byte sequence → rank): the tokens' bytes end to end (~1.6 MB) and an
/// open-addressed table of 8-byte slots (4 MB), each slot holding a token's offset, length and rank.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers keeps an encoder, a decoder and a string vocabulary for every one of the
/// 200,000 tokens: about 40 MB of heap for each replica, where counting needs only this lookup.
/// The ranks come from the same data package it reads (Microsoft.ML.Tokenizers.Data.O200kBase), and
/// the unit tests compare every count with that library's. A lookup reads one slot and, when the
/// lengths agree, the token's bytes: two places in memory, where separate offset and rank arrays
/// made it four, each a cache miss under load (the prompt of every request is counted).
/// </remarks>
internal sealed class TokenVocabulary
{
    private const string DataAssembly = "Microsoft.ML.Tokenizers.Data.O200kBase";
    private const string DataResource = "o200k_base.tiktoken.deflate";

    // A slot: offset in the high 32 bits, then 12 bits of length and 20 of rank; 0 is empty (no
    // token is empty).
    private const int LengthBits = 12;
    private const int RankBits = 20;
    private const int MaxLength = (1 << LengthBits) - 1;
    private const int MaxRank = (1 << RankBits) - 1;

    private readonly byte[] _bytes;
    private readonly ulong[] _slots;
    private readonly int _mask;

    private TokenVocabulary(byte[] bytes, ReadOnlySpan<int> offsets, ReadOnlySpan<int> ranks)
    {
        _bytes = bytes;
        Count = ranks.Length;
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)ranks.Length * 2);
        _slots = new ulong[size];
        _mask = size - 1;
        for (var token = 0; token < ranks.Length; token++)
        {
            var offset = offsets[token];
            var length = offsets[token + 1] - offset;
            if (length > MaxLength || ranks[token] is < 0 or > MaxRank)
            {
                throw new InvalidDataException($"Token {token} is longer than {MaxLength} bytes or ranked outside 0-{MaxRank}.");
            }

            var slot = Hash(bytes.AsSpan(offset, length)) & _mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & _mask;
            }

            _slots[slot] = ((ulong)(uint)offset << 32) | ((ulong)(uint)length << RankBits) | (uint)ranks[token];
        }
    }

    public int Count { get; }

    /// <summary>Reads o200k_base from its data package.</summary>
    public static TokenVocabulary LoadO200kBase()
    {
        using var resource = Assembly.Load(DataAssembly).GetManifestResourceStream(DataResource)
            ?? throw new InvalidOperationException($"{DataAssembly} holds no {DataResource}.");
        using var text = new DeflateStream(resource, CompressionMode.Decompress);
        return Load(text);
    }

    /// <summary>
    /// Reads the tiktoken format: an optional <c>Capacity: n</c> line, then one token per line, either
    /// <c>base64 rank</c> or (as the data package stores it) <c>base64</c> alone, ranked by its line.
    /// </summary>
    public static TokenVocabulary Load(Stream tiktoken)
    {
        using var reader = new StreamReader(tiktoken, Encoding.UTF8);
        var bytes = new MemoryStream(2 << 20);
        var offsets = new List<int>(200_001) { 0 };
        var ranks = new List<int>(200_000);
        Span<byte> token = stackalloc byte[256];
        bool? ranked = null;
        var lineNumber = 0;
        var implicitRank = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (lineNumber == 1 && line.StartsWith("Capacity: ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.Length == 0)
            {
                // A blank line still takes a rank when ranks are line numbers, as tiktoken reads it.
                implicitRank += ranked == true ? 0 : 1;
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            ranked ??= space >= 0;
            var rank = implicitRank++;
            if ((space >= 0) != ranked
                || space == 0
                || !Convert.TryFromBase64Chars(ranked.Value ? line.AsSpan(0, space) : line, token, out var length)
                || (ranked.Value && !int.TryParse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out rank)))
            {
                throw new InvalidDataException($"Line {lineNumber} of the token ranks is neither 'base64 rank' nor 'base64' like the lines before it.");
            }

            bytes.Write(token[..length]);
            offsets.Add((int)bytes.Length);
            ranks.Add(rank);
        }

        // The lists' own arrays, not copies: every array here is on the large object heap.
        return new TokenVocabulary(bytes.ToArray(), CollectionsMarshal.AsSpan(offsets), CollectionsMarshal.AsSpan(ranks));
    }

    /// <summary>The rank of a byte sequence, or -1 when it is no token.</summary>
    public int Rank(ReadOnlySpan<byte> piece)
    {
        var slot = Hash(piece) & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                return -1;
            }

            var length = (int)(entry >> RankBits) & MaxLength;
            if (length == piece.Length && piece.SequenceEqual(_bytes.AsSpan((int)(entry >> 32), length)))
            {
                return (int)entry & MaxRank;
            }

            slot = (slot + 1) & _mask;
        }
    }

    // Lookups are for short sequences (a word, a pair of parts): eight bytes at a time, then a final mix.
    private static int Hash(ReadOnlySpan<byte> piece)
    {
        var hash = (ulong)piece.Length * 0x9E3779B97F4A7C15;
        while (piece.Length >= 8)
        {
            hash = (hash ^ BinaryPrimitives.ReadUInt64LittleEndian(piece)) * 0xFF51AFD7ED558CCD;
            hash ^= hash >> 29;
            piece = piece[8..];
        }

        ulong tail = 0;
        for (var i = 0; i < piece.Length; i++)
        {
            tail |= (ulong)piece[i] << (8 * i);
        }

        hash = (hash ^ tail) * 0xC4CEB9FE1A85EC53;
        hash ^= hash >> 32;
        return (int)hash & int.MaxValue;
    }
}
