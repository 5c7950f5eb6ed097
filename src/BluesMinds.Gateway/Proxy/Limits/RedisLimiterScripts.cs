namespace BluesMinds.Gateway.Proxy.Limits;

/// <summary>
/// The Lua script that makes each check-and-reserve one atomic step on the Redis server, with the
/// server's clock, so every replica sees the same counters. It follows <see cref="LimitMath"/>.
/// Per scope there are two keys: a string with both buckets' levels and times and the month's quota
/// as six little-endian doubles (requests level, its time, tokens level, its time, quota used, its
/// period as <c>yyyyMM</c>), and a sorted set of the running requests' leases scored by expiry.
/// </summary>
/// <remarks>
/// Inside a script, every <c>redis.call</c> costs more than the command itself, the script call more
/// again, and turning numbers into text and back (<c>tonumber</c>, a number passed to a command) was
/// the largest part of the server's CPU. So: one call per request, with the instance's pending
/// settlements of the same account in front of its check; numbers travel as one packed argument and
/// the state as one packed value, read once and written once; times go to commands as integer text.
/// </remarks>
internal static class RedisLimiterScripts
{
    /// <summary>
    /// The SHA-1 Redis names <see cref="Admit"/> by, for <c>EVALSHA</c>. Calling by the script's text
    /// made the client hash and measure all of it on every call to find that name.
    /// </summary>
#pragma warning disable CA5350 // Redis identifies scripts by SHA-1; nothing here relies on it as a secure hash.
    public static readonly byte[] AdmitHash = System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(Admit));
#pragma warning restore CA5350

    /// <summary>
    /// KEYS: two per scope (state, lease set), first every settlement's scopes, then every check's.
    /// ARGV[1]: little-endian doubles: the number of settlements; per settlement the refund (reserved
    /// minus used; negative for an overrun) and scope count, then per scope tokens per minute, monthly
    /// tokens, the quota period and the state's lifetime in ms. Then the number of checks; per check
    /// its scope count, consume (1/0), tokens, quota period, then per scope requests
    /// per minute, tokens per minute, concurrent requests, monthly tokens (0 = no limit), the quota seed
    /// and the state's lifetime in ms. ARGV[2]: the lease lifetime in ms. ARGV[3...]: the
    /// settlements' lease ids, then the checks'.
    /// Returns, per check: outcome, index of the refusing scope (1-based, 0 when admitted), then per
    /// scope the available requests and tokens in thousandths, the concurrent count and the quota used.
    /// </summary>
    public const string Admit = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local v = { struct.unpack('<' .. string.rep('d', #ARGV[1] / 8), ARGV[1]) }
        local a, k, l = 2, 0, 3

        -- Each scope's state is read once and written once, however many steps below touch it.
        -- Absent parts are stored as a zero time or period.
        local STATE = '<dddddd'
        local states, order = {}, {}
        local function load(key)
          local h = states[key]
          if not h then
            h = { ttl = 0, dirty = false }
            local raw = redis.call('GET', key)
            if raw then
              local rl, rt, tl, tt, q, qp = struct.unpack(STATE, raw)
              if rt > 0 then h.rl, h.rt = rl, rt end
              if tt > 0 then h.tl, h.tt = tl, tt end
              if qp > 0 then h.q, h.qp = q, qp end
            end
            states[key] = h
            order[#order + 1] = key
          end
          return h
        end
        local function touch(h, ttl)
          h.dirty = true
          if ttl > h.ttl then h.ttl = ttl end
        end

        -- A bucket's level now, from its stored level and time (full when never written).
        local function level(l, at, limit)
          if limit <= 0 then return 0 end
          if not l then return limit end
          local elapsed = now - at
          if elapsed < 0 then elapsed = 0 end
          local x = l + elapsed * limit / 60000
          if x > limit then x = limit end
          return x
        end

        for _ = 1, v[1] do
          local refund, scopes, lease = v[a], v[a + 1], ARGV[l]
          a, l = a + 2, l + 1
          for _ = 1, scopes do
            local tpm, quota, period, ttl = v[a], v[a + 1], v[a + 2], v[a + 3]
            a = a + 4
            redis.call('ZREM', KEYS[k + 2], lease)
            if refund ~= 0 and (tpm > 0 or quota > 0) then
              local h = load(KEYS[k + 1])
              if tpm > 0 and h.tl then
                local x = level(h.tl, h.tt, tpm) + refund
                if x > tpm then x = tpm end
                h.tl, h.tt = x, now
                touch(h, ttl)
              end
              -- A request that began last month corrects last month's count, which is gone.
              if quota > 0 and h.q and h.qp == period then
                local used = h.q - refund
                if used < 0 then used = 0 end
                h.q = used
                touch(h, ttl)
              end
            end
            k = k + 2
          end
        end

        -- The checks, one after the other as if each were its own call. A lease set is counted once
        -- per call (a lease of a replica that died stops counting when its score passes) and its
        -- lifetime renewed once, after the last lease added.
        local counts, renew, renewed = {}, {}, {}
        local none = {}
        local result = {}
        local checks, leaseMs = v[a], tonumber(ARGV[2])
        a = a + 1
        for _ = 1, checks do
          local scopes, consume, tokens, period, lease = v[a], v[a + 1] == 1, v[a + 2], v[a + 3], ARGV[l]
          a, l = a + 4, l + 1
          local st = {}
          for i = 1, scopes do
            local s = { rpm = v[a], tpm = v[a + 1], conc = v[a + 2], quota = v[a + 3], seed = v[a + 4], ttl = v[a + 5], leases = KEYS[k + 2], h = none, ra = 0, ta = 0, cc = 0, used = 0 }
            a = a + 6
            if s.rpm > 0 or s.tpm > 0 or s.quota > 0 then s.h = load(KEYS[k + 1]) end
            k = k + 2
            local h = s.h
            s.ra = level(h.rl, h.rt, s.rpm)
            s.ta = level(h.tl, h.tt, s.tpm)
            if s.conc > 0 then
              if not counts[s.leases] then
                counts[s.leases] = redis.call('ZCOUNT', s.leases, string.format('(%d', now), '+inf')
              end
              s.cc = counts[s.leases]
            end
            if s.quota > 0 then
              if not h.q or h.qp ~= period then
                h.q, h.qp = s.seed, period
                touch(h, s.ttl)
              end
              s.used = h.q
            end
            st[i] = s
          end

          local outcome, refused = 0, 0
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
              local s, h = st[i], st[i].h
              if s.rpm > 0 then
                s.ra = s.ra - 1
                h.rl, h.rt = s.ra, now
                touch(h, s.ttl)
              end
              if s.tpm > 0 then
                s.ta = s.ta - tokens
                h.tl, h.tt = s.ta, now
                touch(h, s.ttl)
              end
              if s.conc > 0 then
                -- Expired leases no longer count; they are cleared out now and then.
                if now % 16 == 0 and not renewed[s.leases] then
                  redis.call('ZREMRANGEBYSCORE', s.leases, '-inf', string.format('%d', now))
                end
                redis.call('ZADD', s.leases, string.format('%d', now + leaseMs), lease)
                s.cc = s.cc + 1
                counts[s.leases] = s.cc
                if not renewed[s.leases] then
                  renewed[s.leases] = true
                  renew[#renew + 1] = s.leases
                end
              end
              if s.quota > 0 then
                h.q = h.q + tokens
                s.used = h.q
                touch(h, s.ttl)
              end
            end
          end

          result[#result + 1] = outcome
          result[#result + 1] = refused
          for i = 1, scopes do
            local s = st[i]
            result[#result + 1] = math.floor(s.ra * 1000)
            result[#result + 1] = math.floor(s.ta * 1000)
            result[#result + 1] = s.cc
            result[#result + 1] = s.used
          end
        end

        for _, key in ipairs(renew) do
          redis.call('PEXPIRE', key, ARGV[2])
        end
        for _, key in ipairs(order) do
          local h = states[key]
          if h.dirty then
            redis.call('SET', key, struct.pack(STATE, h.rl or 0, h.rt or 0, h.tl or 0, h.tt or 0, h.q or 0, h.qp or 0), 'PX', string.format('%d', h.ttl))
          end
        end
        return result
        """;
}
