namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The Lua scripts that make each check-and-reserve one atomic step on the Redis server, with the
/// server's clock, so every replica sees the same counters. They follow <see cref="LimitMath"/>.
/// KEYS per scope: rate hash, concurrency sorted set, quota counter. Per-scope ARGV: requests per
/// minute, tokens per minute, concurrent requests, monthly tokens (0 = no limit), quota seed.
/// </summary>
internal static class RedisLimiterScripts
{
    /// <summary>
    /// ARGV: consume (1/0), tokens, lease id, lease lifetime ms, quota key lifetime s, then 5 per scope.
    /// Returns: outcome, index of the refusing scope (1-based, 0 when admitted), then per scope the
    /// available requests and tokens in thousandths, the concurrent count and the quota used.
    /// </summary>
    public const string Acquire = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local consume = ARGV[1] == '1'
        local tokens = tonumber(ARGV[2])
        local lease = ARGV[3]
        local leaseMs = tonumber(ARGV[4])
        local quotaTtl = tonumber(ARGV[5])
        local scopes = #KEYS / 3

        -- A bucket's level now, from its stored level and time (full when never written).
        local function available(level, at, limit)
          if limit <= 0 then return 0 end
          if not level then return limit end
          local elapsed = now - tonumber(at)
          if elapsed < 0 then elapsed = 0 end
          local a = tonumber(level) + elapsed * limit / 60000
          if a > limit then a = limit end
          return a
        end

        local st = {}
        for i = 1, scopes do
          local b = 5 + (i - 1) * 5
          local s = { rpm = tonumber(ARGV[b + 1]), tpm = tonumber(ARGV[b + 2]), conc = tonumber(ARGV[b + 3]), quota = tonumber(ARGV[b + 4]) }
          s.rate = KEYS[(i - 1) * 3 + 1]
          s.cset = KEYS[(i - 1) * 3 + 2]
          s.q = KEYS[(i - 1) * 3 + 3]
          s.ra = 0
          s.ta = 0
          if s.rpm > 0 or s.tpm > 0 then
            -- Both buckets live in one hash: one read for both.
            local v = redis.call('HMGET', s.rate, 'rl', 'rt', 'tl', 'tt')
            s.ra = available(v[1], v[2], s.rpm)
            s.ta = available(v[3], v[4], s.tpm)
          end
          s.cc = 0
          if s.conc > 0 then
            redis.call('ZREMRANGEBYSCORE', s.cset, '-inf', now)
            s.cc = redis.call('ZCARD', s.cset)
          end
          s.used = 0
          if s.quota > 0 then
            local used = redis.call('GET', s.q)
            if not used then
              used = ARGV[b + 5]
              redis.call('SET', s.q, used, 'EX', quotaTtl)
            end
            s.used = tonumber(used)
          end
          st[i] = s
        end

        local outcome = 0
        local refused = 0
        for i = 1, scopes do
          local s = st[i]
          if s.quota > 0 and s.used + tokens > s.quota then outcome = 1
          elseif s.tpm > 0 and tokens > s.tpm then outcome = 2
          elseif s.rpm > 0 and s.ra < 1 then outcome = 3
          elseif s.tpm > 0 and s.ta < tokens then outcome = 4
          elseif s.conc > 0 and s.cc >= s.conc then outcome = 5
          end
          if outcome ~= 0 then refused = i break end
        end

        if outcome == 0 and consume then
          for i = 1, scopes do
            local s = st[i]
            -- Only the buckets that apply are written (one set later starts full), in one write.
            local fields = {}
            if s.rpm > 0 then
              s.ra = s.ra - 1
              fields[#fields + 1] = 'rl'
              fields[#fields + 1] = tostring(s.ra)
              fields[#fields + 1] = 'rt'
              fields[#fields + 1] = now
            end
            if s.tpm > 0 then
              s.ta = s.ta - tokens
              fields[#fields + 1] = 'tl'
              fields[#fields + 1] = tostring(s.ta)
              fields[#fields + 1] = 'tt'
              fields[#fields + 1] = now
            end
            if #fields > 0 then
              redis.call('HSET', s.rate, unpack(fields))
              redis.call('PEXPIRE', s.rate, 120000)
            end
            if s.conc > 0 then
              redis.call('ZADD', s.cset, now + leaseMs, lease)
              redis.call('PEXPIRE', s.cset, leaseMs)
              s.cc = s.cc + 1
            end
            if s.quota > 0 then
              s.used = redis.call('INCRBY', s.q, tokens)
            end
          end
        end

        local result = { outcome, refused }
        for i = 1, scopes do
          local s = st[i]
          table.insert(result, math.floor(s.ra * 1000))
          table.insert(result, math.floor(s.ta * 1000))
          table.insert(result, s.cc)
          table.insert(result, s.used)
        end
        return result
        """;

    /// <summary>ARGV: refund (reserved minus actual; negative for an overrun), lease id, then per scope tokens per minute and monthly tokens.</summary>
    public const string Settle = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local refund = tonumber(ARGV[1])
        local lease = ARGV[2]
        for i = 1, #KEYS / 3 do
          local rate = KEYS[(i - 1) * 3 + 1]
          local tpm = tonumber(ARGV[2 + (i - 1) * 2 + 1])
          local quota = tonumber(ARGV[2 + (i - 1) * 2 + 2])
          redis.call('ZREM', KEYS[(i - 1) * 3 + 2], lease)
          if tpm > 0 and refund ~= 0 then
            local v = redis.call('HMGET', rate, 'tl', 'tt')
            if v[1] then
              local elapsed = now - tonumber(v[2])
              if elapsed < 0 then elapsed = 0 end
              local a = tonumber(v[1]) + elapsed * tpm / 60000 + refund
              if a > tpm then a = tpm end
              redis.call('HSET', rate, 'tl', tostring(a), 'tt', now)
              redis.call('PEXPIRE', rate, 120000)
            end
          end
          local q = KEYS[(i - 1) * 3 + 3]
          if quota > 0 and refund ~= 0 and redis.call('EXISTS', q) == 1 then
            local used = redis.call('INCRBY', q, -refund)
            if used < 0 then redis.call('SET', q, 0, 'KEEPTTL') end
          end
        end
        return 1
        """;
}
