package redisstore

// The Lua scripts below make every operation but a plain read atomic on the
// server (a read is two plain commands, Store.lookup). Each runs
// inside one bucket (see layout.go), so all the keys it touches share one
// hash tag and one cluster slot:
//
//	KEYS[1] item   hash {g generation, v value, k kind, f flags, c cas, e expires,
//	               and the meta protocol's marks: h read since written,
//	               x stale, w recache lease handed out; r when the idle TTL
//	               was last set, Unix s}
//	               or, for a delete lock, {g generation, l locked-until}
//	KEYS[2] meta   hash {g generation, cas counter, hits, misses, bh, items, bytes}
//	KEYS[3] lru    zset item name -> last access (Unix s, injected clock)
//	KEYS[4] exp    zset item name -> expiry (Unix s) for items that expire
//	KEYS[5] sz     hash item name -> item size (key + value bytes)
//
// Common ARGV: [1] now (ms), [2] now (whole seconds), [3] item key prefix of
// the bucket, [4] item name (namespace ":" key). Time always comes from the
// store's injected clock, never from the Redis server.
//
// Lua numbers are doubles, so 64-bit values (incr/decr results, CAS ids sent
// by callers) travel as decimal strings and are compared or computed digit by
// digit; CAS ids minted here stay far below 2^53.

// forgetLua drops an item's accounting; the scripts that use it define
// meta, lru, exp and sz before it.
const forgetLua = `
-- forget drops the accounting of item n (live or expired, never a lock).
local function forget(n)
  local s = redis.call('HGET', sz, n)
  if s then
    redis.call('HINCRBY', meta, 'items', -1)
    redis.call('HINCRBY', meta, 'bytes', -tonumber(s))
    redis.call('HDEL', sz, n)
  end
  redis.call('ZREM', lru, n)
  redis.call('ZREM', exp, n)
end
`

// prelude is shared by every item script.
const prelude = `
local item, meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, nows, ipfx, name = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local gen = redis.call('HGET', meta, 'g') or '0'

` + forgetLua + `
-- sweep removes up to limit items whose expiry has passed, so the counters
-- follow the injected clock rather than Redis' own key expiry.
local function sweep(limit)
  local dead = redis.call('ZRANGEBYSCORE', exp, '-inf', nows, 'LIMIT', 0, limit)
  for _, n in ipairs(dead) do
    forget(n)
    redis.call('UNLINK', ipfx .. n)
  end
end

-- account records a freshly written item n of size s.
local function account(n, s, e)
  redis.call('HSET', sz, n, s)
  redis.call('HINCRBY', meta, 'items', 1)
  redis.call('HINCRBY', meta, 'bytes', s)
  redis.call('ZADD', lru, nows, n)
  if e > 0 then redis.call('ZADD', exp, e, n) end
end

-- nextCAS mints an id unique across buckets: counter * buckets + bucket.
local function nextCAS(buckets, bucket)
  local n = redis.call('HINCRBY', meta, 'cas', 1)
  return string.format('%d', n * buckets + bucket)
end

-- load returns the state of the item ('live', 'locked' or nil) and its fields.
local function load(...)
  local h = redis.call('HMGET', item, 'g', 'e', 'l', ...)
  if h[1] ~= gen then return nil, h end
  if h[3] then
    if now < tonumber(h[3]) * 1000 then return 'locked', h end
    return nil, h
  end
  local e = tonumber(h[2])
  if e ~= 0 and now >= e * 1000 then return nil, h end
  return 'live', h
end
`

// putScript: ARGV[5] item size, [6] mode, [7] value, [8] kind, [9] flags,
// [10] expires (s, 0 = never), [11] expected cas, [12] Redis TTL (ms),
// [13] buckets, [14] bucket. Returns {new cas id} or {new cas id, gen} when
// it left the item's lru update to the sync (an overwrite: the item is in
// the lru zset already), or {0} (exists), {-1} (not found), {-2} (cas
// mismatch).
//
// It is written out rather than built on the prelude, because every
// redis.call costs Redis about 0.6 µs of CPU besides the command itself: no
// sweep (the sync sweeps the buckets written to), no read of the old item
// for a set (nothing in it decides a set), the accounting rewritten in place
// (three calls for an overwrite of the same size instead of eleven), and the
// lru update of an overwrite batched. 7 calls for a set that overwrites,
// against 10 before; every kept call is needed (generation, CAS counter, old
// size, item, its stale marks, its TTL, its expiry entry).
const putScript = `
local item, meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, name, mode = tonumber(ARGV[1]), ARGV[4], ARGV[6]
local gen = redis.call('HGET', meta, 'g') or '0'
` + forgetLua + `
if mode ~= 'set' then
  local h = redis.call('HMGET', item, 'g', 'e', 'l', 'c')
  local st
  if h[1] == gen then
    if h[3] then
      if now < tonumber(h[3]) * 1000 then st = 'locked' end
    else
      local e = tonumber(h[2])
      if e == 0 or now < e * 1000 then st = 'live' end
    end
  end
  if mode == 'add' and st then return {0} end
  if mode == 'replace' and st ~= 'live' then return {-1} end
  if mode == 'cas' and (st ~= 'live' or h[4] ~= ARGV[11]) then return {-2} end
end
-- nextCAS of the prelude: an id unique across buckets.
local id = string.format('%d', redis.call('HINCRBY', meta, 'cas', 1) * tonumber(ARGV[13]) + tonumber(ARGV[14]))
local s, e = tonumber(ARGV[5]), tonumber(ARGV[10])
if e > 0 and now >= e * 1000 then
  -- Stored and expired at once (rare: its one extra read of sz is cheap).
  redis.call('DEL', item)
  forget(name)
  return {id}
end
local old = redis.call('HGET', sz, name)
-- r: when the idle TTL was set (Unix s), so reads renew it only when due.
-- Rewritten in place, then the fields a new value must not carry removed:
-- on a 100-byte value (a hash table, past hash-max-listpack-value) that
-- costs Redis 1 µs less than DEL and HSET of a new hash.
redis.call('HSET', item, 'g', gen, 'v', ARGV[7], 'k', ARGV[8], 'f', ARGV[9], 'c', id, 'e', ARGV[10], 'r', ARGV[2])
redis.call('HDEL', item, 'h', 'x', 'w', 'l')
redis.call('PEXPIRE', item, ARGV[12])
if e > 0 then redis.call('ZADD', exp, e, name) else redis.call('ZREM', exp, name) end
if old then
  if s ~= tonumber(old) then
    redis.call('HINCRBY', meta, 'bytes', s - tonumber(old))
    redis.call('HSET', sz, name, s)
  end
  return {id, gen}
end
redis.call('HSET', sz, name, s)
redis.call('HINCRBY', meta, 'items', 1)
redis.call('HINCRBY', meta, 'bytes', s)
redis.call('ZADD', lru, ARGV[2], name)
return {id}
`

// deleteScript: ARGV[5] locked-until (s, 0 = no lock), [6] Redis TTL of the
// lock (ms). Returns 1 when a live item or a lock was removed, 0 otherwise.
const deleteScript = prelude + `
sweep(8)
local st = load()
forget(name)
redis.call('DEL', item)
if not st then return 0 end
local l = tonumber(ARGV[5])
if l > 0 and now < l * 1000 then
  redis.call('HSET', item, 'g', gen, 'l', ARGV[5])
  redis.call('PEXPIRE', item, tonumber(ARGV[6]))
end
return 1
`

// offsetScript: ARGV[5] key size, [6] amount (decimal), [7] '1' to
// decrement, [8] initial value (decimal, empty for none), [9] kind of a created
// item, [10] buckets, [11] bucket, [12] idle TTL (ms). Returns {result} as a decimal string, or
// {-1} (not found) / {-2} (not a number).
const offsetScript = prelude + `
local MAX = '18446744073709551615'
local WRAP = '18446744073709551616'

local function trim(a)
  a = string.gsub(a, '^0+', '')
  if a == '' then return '0' end
  return a
end

local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

-- Below 10^15 the sum of two values is exact in a Lua number.
local function add(a, b)
  if #a < 16 and #b < 16 then return string.format('%d', tonumber(a) + tonumber(b)) end
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry
    if i > 0 then d = d + string.byte(a, i) - 48 end
    if j > 0 then d = d + string.byte(b, j) - 48 end
    out[#out + 1] = string.char(48 + d % 10)
    carry = math.floor(d / 10)
    i, j = i - 1, j - 1
  end
  return trim(string.reverse(table.concat(out)))
end

-- sub returns a - b for a >= b.
local function sub(a, b)
  if #a < 16 then return string.format('%d', tonumber(a) - tonumber(b)) end
  local out, borrow, i, j = {}, 0, #a, #b
  while i > 0 do
    local d = string.byte(a, i) - 48 - borrow
    if j > 0 then d = d - (string.byte(b, j) - 48) end
    if d < 0 then d, borrow = d + 10, 1 else borrow = 0 end
    out[#out + 1] = string.char(48 + d)
    i, j = i - 1, j - 1
  end
  return trim(string.reverse(table.concat(out)))
end

sweep(8)
local st, h = load('v', 'k')
local digits, wrap = nil, ''
local kind, created = h[5], false
if st ~= 'live' then
  if ARGV[8] == '' then return {-1} end
  forget(name)
  redis.call('DEL', item)
  digits, kind, created = ARGV[8], ARGV[9], true
elseif string.find(h[4], '^%d+$') then
  digits = h[4]
elseif kind == '0' and string.find(h[4], '^"%d+"$') then
  digits, wrap = string.sub(h[4], 2, -2), '"'
else
  return {-2}
end
digits = trim(digits)
if cmp(digits, MAX) > 0 then return {-2} end

local r
if ARGV[7] == '1' then
  if cmp(digits, ARGV[6]) < 0 then r = '0' else r = sub(digits, ARGV[6]) end
else
  r = add(digits, ARGV[6])
  if cmp(r, MAX) > 0 then r = sub(r, WRAP) end
end

local v = wrap .. r .. wrap
local size = tonumber(ARGV[5]) + #v
local id = nextCAS(tonumber(ARGV[10]), tonumber(ARGV[11]))
if created then
  redis.call('HSET', item, 'g', gen, 'v', v, 'k', kind, 'f', '0', 'c', id, 'e', '0')
  redis.call('PEXPIRE', item, ARGV[12])
  account(name, size, 0)
else
  if h[2] == '0' then redis.call('PEXPIRE', item, ARGV[12]) end
  redis.call('HSET', item, 'v', v, 'c', id)
  -- The size changes only with the number of digits. An item a plain set
  -- wrote that no sync has accounted yet is accounted here.
  if #v ~= #h[4] then
    local old = redis.call('HGET', sz, name)
    redis.call('HSET', sz, name, size)
    if old then
      redis.call('HINCRBY', meta, 'bytes', size - tonumber(old))
    else
      redis.call('HINCRBY', meta, 'items', 1)
      redis.call('HINCRBY', meta, 'bytes', size)
    end
  end
  redis.call('ZADD', lru, nows, name)
end
return {r}
`

// syncScript: KEYS meta, lru, exp, sz; ARGV[1] now (s), [2] item key
// prefix, [3] generation the counts and touches were observed in (” for
// none), [4] hits, [5] misses, [6] byte hits, [7] idle TTL (ms), [8] sweep
// limit, [9] touches t, [10] renewals r, then t pairs (access time, item
// name), r pairs (item name, cas) of items whose idle TTL is due, and to the
// end the names of items written by plain sets. Writes what Store.Sync
// batched (books.go) and sweeps the bucket.
//
// A plain set leaves the item's accounting (sz, items, bytes) to this
// script, which makes it match the item as it now is, whoever wrote it
// since: so it can run late, twice, or after another node's script has
// accounted the item, and end right. Counts and touches of an older
// generation are dropped: a FlushAll came in between. An access time only
// moves forward (GT) and only for an item still accounted (XX), so a late
// one never resurrects a deleted item nor ages a rewritten one; a renewal
// applies only to the version read.
const syncScript = `
local meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local nows, ipfx = tonumber(ARGV[1]), ARGV[2]
` + forgetLua + `
local limit = tonumber(ARGV[8])
if limit > 0 then
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', nows, 'LIMIT', 0, limit)) do
    forget(n)
    redis.call('UNLINK', ipfx .. n)
  end
end
local gen = redis.call('HGET', meta, 'g') or '0'
local nt, nr = tonumber(ARGV[9]), tonumber(ARGV[10])
for i = 11 + 2 * (nt + nr), #ARGV do
  local n = ARGV[i]
  local it = ipfx .. n
  local h = redis.call('HMGET', it, 'g', 'l')
  if h[1] == gen and not h[2] then
    -- key bytes (after the namespace's ':') plus value bytes
    local size = #n - string.find(n, ':', 1, true) + redis.call('HSTRLEN', it, 'v')
    local old = redis.call('HGET', sz, n)
    if not old then
      redis.call('HSET', sz, n, size)
      redis.call('HINCRBY', meta, 'items', 1)
      redis.call('HINCRBY', meta, 'bytes', size)
    elseif tonumber(old) ~= size then
      redis.call('HINCRBY', meta, 'bytes', size - tonumber(old))
      redis.call('HSET', sz, n, size)
    end
  else
    forget(n)
  end
end
if ARGV[3] ~= gen then return 0 end
if ARGV[4] ~= '0' then redis.call('HINCRBY', meta, 'hits', ARGV[4]) end
if ARGV[5] ~= '0' then redis.call('HINCRBY', meta, 'misses', ARGV[5]) end
if ARGV[6] ~= '0' then redis.call('HINCRBY', meta, 'bh', ARGV[6]) end
if nt > 0 then redis.call('ZADD', lru, 'XX', 'GT', unpack(ARGV, 11, 10 + 2 * nt)) end
for i = 11 + 2 * nt, 10 + 2 * (nt + nr), 2 do
  local it = ipfx .. ARGV[i]
  local h = redis.call('HMGET', it, 'g', 'c', 'e', 'l')
  if h[1] == gen and h[2] == ARGV[i + 1] and h[3] == '0' and not h[4] then
    redis.call('PEXPIRE', it, ARGV[7])
    redis.call('HSET', it, 'r', ARGV[1])
  end
end
return 1
`

// markScript: KEYS item; ARGV[1] cas. Sets the meta protocol's hit-before
// mark on the version of the item a plain read found unmarked, and on no
// other: the item may have been rewritten, deleted or locked since.
const markScript = `
if redis.call('HGET', KEYS[1], 'c') == ARGV[1] then redis.call('HSET', KEYS[1], 'h', '1') end
return 1
`

// statsScript: KEYS meta, lru, exp, sz; ARGV[1] now (ms), [2] now (s),
// [3] item key prefix. Sweeps the bucket, repairs the accounting of items
// Redis evicted on its own, and returns {hits, misses, byte_hits, items,
// bytes, oldest access (Unix s) or -1}.
const statsScript = `
local meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, nows, ipfx = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local gen = redis.call('HGET', meta, 'g') or '0'

` + forgetLua + `
for _, n in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', nows, 'LIMIT', 0, 10000)) do
  forget(n)
  redis.call('UNLINK', ipfx .. n)
end

local oldest = -1
for _ = 1, 1000 do
  local first = redis.call('ZRANGE', lru, 0, 0, 'WITHSCORES')
  if #first == 0 then break end
  if redis.call('HGET', ipfx .. first[1], 'g') == gen then
    oldest = tonumber(first[2])
    break
  end
  forget(first[1])
end

local h = redis.call('HMGET', meta, 'hits', 'misses', 'bh', 'items', 'bytes')
for i = 1, 5 do h[i] = h[i] or '0' end
h[6] = string.format('%d', oldest)
return h
`

// flushScript: KEYS meta, lru, exp, sz. Starts a new generation, which makes
// every older item and lock of the bucket invisible at once, and resets the
// stats; the CAS counter survives so ids never repeat.
const flushScript = `
redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HSET', KEYS[1], 'hits', 0, 'misses', 0, 'bh', 0, 'items', 0, 'bytes', 0)
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
return 1
`

// reapScript: KEYS item, meta. Unlinks an item or lock left over from an
// older generation; a key written since the flush is kept.
const reapScript = `
local g = redis.call('HGET', KEYS[1], 'g')
if g and g ~= (redis.call('HGET', KEYS[2], 'g') or '0') then
  redis.call('UNLINK', KEYS[1])
  return 1
end
return 0
`

// setExpiryLua gives live item n the expiry e (Unix s as a string, '0' =
// never) and the Redis TTL ttl (ms); defined after the prelude.
const setExpiryLua = `
local function setExpiry(e, ttl)
  redis.call('HSET', item, 'e', e)
  if tonumber(e) > 0 then redis.call('ZADD', exp, e, name) else redis.call('ZREM', exp, name) end
  redis.call('PEXPIRE', item, ttl)
end

-- resize records that item n now holds size bytes, accounting it if a
-- plain set wrote it and no sync has yet.
local function resize(size)
  local old = redis.call('HGET', sz, name)
  redis.call('HSET', sz, name, size)
  if old then
    redis.call('HINCRBY', meta, 'bytes', size - tonumber(old))
  else
    redis.call('HINCRBY', meta, 'items', 1)
    redis.call('HINCRBY', meta, 'bytes', size)
  end
end
`

// fetchScript: ARGV[5] key size, [6] idle TTL (ms), [7] touch expires (s,
// ” for no touch), [8] its Redis TTL (ms), [9] vivify expires (s, ” for
// no vivify), [10] its Redis TTL (ms), [11] recache below (s, ” for none),
// [12] '1' for no bump, [13] buckets, [14] bucket, [15] the latest access
// this process has not synced yet (Unix s, 0 for none). Returns nil on a miss, or
// {value, kind, flags, cas, expires, stale, won, lost, created, hit before,
// idle seconds}, flags as '0' or '1'.
const fetchScript = prelude + setExpiryLua + `
sweep(8)
local st, h = load('v', 'k', 'f', 'c', 'x', 'w', 'h')
if st ~= 'live' then
  redis.call('HINCRBY', meta, 'misses', 1)
  if ARGV[9] == '' or st == 'locked' then return false end
  forget(name)
  redis.call('DEL', item)
  local id = nextCAS(tonumber(ARGV[13]), tonumber(ARGV[14]))
  local e = tonumber(ARGV[9])
  if e == 0 or now < e * 1000 then
    redis.call('HSET', item, 'g', gen, 'v', '', 'k', '1', 'f', '0', 'c', id, 'e', ARGV[9], 'w', '1')
    redis.call('PEXPIRE', item, ARGV[10])
    account(name, tonumber(ARGV[5]), e)
  end
  return {'', '1', '0', id, ARGV[9], '0', '1', '0', '1', '0', '0'}
end
local idle = 0
local la = redis.call('ZSCORE', lru, name)
if la then idle = math.max(0, nows - math.max(tonumber(la), tonumber(ARGV[15]))) end
local e = h[2]
if ARGV[7] ~= '' then
  e = ARGV[7]
  setExpiry(e, ARGV[8])
elseif e == '0' then
  redis.call('PEXPIRE', item, ARGV[6])
end
local stale = h[8] and '1' or '0'
local won, lost = '0', '0'
if h[9] then
  lost = '1'
elseif h[8] or (ARGV[11] ~= '' and e ~= '0' and tonumber(e) - nows < tonumber(ARGV[11])) then
  won = '1'
  redis.call('HSET', item, 'w', '1')
end
redis.call('HINCRBY', meta, 'hits', 1)
redis.call('HINCRBY', meta, 'bh', tonumber(ARGV[5]) + #h[4])
if ARGV[12] ~= '1' then
  redis.call('ZADD', lru, nows, name)
  if not h[10] then redis.call('HSET', item, 'h', '1') end
end
return {h[4], h[5], h[6], h[7], e, stale, won, lost, '0', h[10] and '1' or '0', string.format('%d', idle)}
`

// concatScript: ARGV[5] key size, [6] value, [7] '1' to prepend, [8]
// expected cas (” for any), [9] value limit, [10] buckets, [11] bucket,
// [12] idle TTL (ms). Returns the new cas id, or -1 (not found), -2 (cas
// mismatch), -3 (too large).
const concatScript = prelude + setExpiryLua + `
sweep(8)
local st, h = load('v', 'c')
if st ~= 'live' then return -1 end
if ARGV[8] ~= '' and h[5] ~= ARGV[8] then return -2 end
local v
if ARGV[7] == '1' then v = ARGV[6] .. h[4] else v = h[4] .. ARGV[6] end
if #v > tonumber(ARGV[9]) then return -3 end
local id = nextCAS(tonumber(ARGV[10]), tonumber(ARGV[11]))
redis.call('HSET', item, 'v', v, 'k', '1', 'c', id)
redis.call('HDEL', item, 'x', 'w', 'h')
if h[2] == '0' then redis.call('PEXPIRE', item, ARGV[12]) end
resize(tonumber(ARGV[5]) + #v)
redis.call('ZADD', lru, nows, name)
return id
`

// invalidateScript: ARGV[5] key size, [6] expected cas (” for any), [7]
// '1' to mark stale, [8] '1' to empty, [9] touch expires (s, ” for none),
// [10] its Redis TTL (ms), [11] buckets, [12] bucket. Returns the new cas
// id, 0 (removed), -1 (not found) or -2 (cas mismatch).
const invalidateScript = prelude + setExpiryLua + `
sweep(8)
local st, h = load('c')
if st ~= 'live' then return -1 end
if ARGV[6] ~= '' and h[4] ~= ARGV[6] then return -2 end
if ARGV[7] ~= '1' and ARGV[8] ~= '1' then
  forget(name)
  redis.call('DEL', item)
  return 0
end
local id = nextCAS(tonumber(ARGV[11]), tonumber(ARGV[12]))
redis.call('HSET', item, 'c', id)
if ARGV[8] == '1' then
  redis.call('HSET', item, 'v', '', 'k', '1')
  redis.call('HDEL', item, 'x', 'w', 'h')
  resize(tonumber(ARGV[5]))
end
if ARGV[7] == '1' then
  redis.call('HSET', item, 'x', '1')
  redis.call('HDEL', item, 'w')
end
if ARGV[9] ~= '' then setExpiry(ARGV[9], ARGV[10]) end
redis.call('ZADD', lru, nows, name)
return id
`
