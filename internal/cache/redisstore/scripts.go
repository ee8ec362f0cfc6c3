package redisstore

// The Lua scripts below make every operation but a plain read and a plain
// set atomic on the server (each is one command and a read of the
// generation, Store.lookup and Store.plainSet). Each runs
// inside one bucket (see layout.go), so all the keys it touches share one
// hash tag and one cluster slot:
//
//	KEYS[1] item   a string "g,e,k,f,c,r,m,l|value" (itemLua): generation,
//	               expires, kind, flags, cas, when the idle TTL was last
//	               set (Unix s, may be empty), the marks (the meta
//	               protocol's h read since written, x stale, w recache lease
//	               handed out; a accounted, item.go), and locked-until (empty but for a delete lock)
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

// itemLua is the item string's codec, the Lua twin of item.go: one
// pattern match to read it, one concatenation to write it. An item is one
// string rather than a hash so that a plain read is a GET and a plain set a
// SET: under wrk the hash's HMGET of nine fields and a set's MULTI/EXEC of
// eight commands cost Redis and the client about twice what the string does.
const itemLua = `
-- dec parses an item string (false or nil for none).
local function dec(b)
  if not b then return nil end
  local g, e, k, f, c, r, m, l, at = string.match(b, '^(%d*),(%d*),(%d*),(%d*),(%d*),(%d*),(%a*),(%d*)|()')
  if not g then return nil end
  return {g = g, e = e, k = k, f = f, c = c, r = r, m = m, l = l, v = string.sub(b, at)}
end

-- enc writes an item string.
local function enc(t)
  return t.g .. ',' .. t.e .. ',' .. t.k .. ',' .. t.f .. ',' .. t.c .. ',' .. t.r .. ',' .. t.m .. ',' .. t.l .. '|' .. t.v
end

-- has reports whether item t carries mark ch.
local function has(t, ch)
  return string.find(t.m, ch, 1, true) ~= nil
end

-- save writes item t to key k with the Redis TTL ttl (ms), or keeping its TTL when ttl is nil.
local function save(k, t, ttl)
  if ttl then
    redis.call('SET', k, enc(t), 'PX', ttl)
  else
    redis.call('SET', k, enc(t), 'KEEPTTL')
  end
end
`

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

// sweepLua removes expired items; the scripts that use it define meta, lru,
// exp, sz, nows, ipfx and gen, itemLua and forgetLua before it.
const sweepLua = `
-- sweep removes up to limit items whose expiry has passed, so the counters
-- follow the injected clock rather than Redis' own key expiry. A plain set
-- leaves the exp zset to the sync, so an entry may be out of date: an item
-- rewritten since with a later expiry, or none, or locked, is kept and its
-- entry mended.
local function sweep(limit)
  local dead = redis.call('ZRANGEBYSCORE', exp, '-inf', nows, 'LIMIT', 0, limit)
  for _, n in ipairs(dead) do
    local t = dec(redis.call('GET', ipfx .. n))
    if t and t.g == gen and (t.l ~= '' or t.e == '0') then
      redis.call('ZREM', exp, n)
    elseif t and t.g == gen and tonumber(t.e) > nows then
      redis.call('ZADD', exp, t.e, n)
    else
      forget(n)
      redis.call('UNLINK', ipfx .. n)
    end
  end
end
`

// casFloorLua starts a missing CAS counter at the clock; the scripts that use
// it define meta and now (ms) before it.
const casFloorLua = `
-- casFloor starts a missing CAS counter at the clock in ms, times 1000 over
-- the buckets (at least 1): after Redis lost the bookkeeping (a restart
-- without persistence, a FLUSHALL) the counter starts above every id handed
-- out before, as long as fewer than about a million a second were, so no id
-- is reused, neither one of a block a node reserved before the loss nor one
-- a client kept. counter * buckets stays below 2^53, where Lua's numbers
-- are exact.
local function casFloor(buckets)
  if redis.call('HEXISTS', meta, 'cas') == 0 then
    redis.call('HSET', meta, 'cas', string.format('%d', now * math.max(1, math.floor(1000 / buckets))))
  end
end
`

// prelude is shared by every item script.
const prelude = `
local item, meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, nows, ipfx, name = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local gen = redis.call('HGET', meta, 'g') or '0'
` + itemLua + forgetLua + sweepLua + casFloorLua + `
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
  casFloor(buckets)
  local n = redis.call('HINCRBY', meta, 'cas', 1)
  return string.format('%d', n * buckets + bucket)
end

-- load returns the state of the item ('live', 'locked' or nil) and the item.
local function load()
  local t = dec(redis.call('GET', item))
  if not t or t.g ~= gen then return nil, t end
  if t.l ~= '' then
    if now < tonumber(t.l) * 1000 then return 'locked', t end
    return nil, t
  end
  local e = tonumber(t.e)
  if e ~= 0 and now >= e * 1000 then return nil, t end
  return 'live', t
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
// (two calls for an overwrite of the same size), and the lru update of an
// overwrite batched.
const putScript = `
local item, meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, name, mode = tonumber(ARGV[1]), ARGV[4], ARGV[6]
local gen = redis.call('HGET', meta, 'g') or '0'
` + itemLua + forgetLua + casFloorLua + `
if mode ~= 'set' then
  local t = dec(redis.call('GET', item))
  local st
  if t and t.g == gen then
    if t.l ~= '' then
      if now < tonumber(t.l) * 1000 then st = 'locked' end
    else
      local e = tonumber(t.e)
      if e == 0 or now < e * 1000 then st = 'live' end
    end
  end
  if mode == 'add' and st then return {0} end
  if mode == 'replace' and st ~= 'live' then return {-1} end
  if mode == 'cas' and (st ~= 'live' or t.c ~= ARGV[11]) then return {-2} end
end
-- nextCAS of the prelude: an id unique across buckets.
casFloor(tonumber(ARGV[13]))
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
-- A new string carries none of the old marks nor a lock, and is accounted
-- below (the accounted mark, item.go).
save(item, {g = gen, e = ARGV[10], k = ARGV[8], f = ARGV[9], c = id, r = ARGV[2], m = 'a', l = '', v = ARGV[7]}, ARGV[12])
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
  save(item, {g = gen, e = '0', k = '0', f = '0', c = '0', r = '', m = '', l = ARGV[5], v = ''}, ARGV[6])
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
local st, t = load()
local digits, wrap = nil, ''
local kind, created = t and t.k, false
if st ~= 'live' then
  if ARGV[8] == '' then return {-1} end
  forget(name)
  redis.call('DEL', item)
  digits, kind, created = ARGV[8], ARGV[9], true
elseif string.find(t.v, '^%d+$') then
  digits = t.v
elseif kind == '0' and string.find(t.v, '^"%d+"$') then
  digits, wrap = string.sub(t.v, 2, -2), '"'
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
  save(item, {g = gen, e = '0', k = kind, f = '0', c = id, r = ARGV[2], m = 'a', l = '', v = v}, ARGV[12])
  account(name, size, 0)
else
  local oldLen = #t.v
  t.v, t.c = v, id
  if t.e == '0' then
    t.r = ARGV[2]
    save(item, t, ARGV[12])
  else
    save(item, t)
  end
  -- The size changes only with the number of digits. An item a plain set
  -- wrote that no sync has accounted yet is accounted here.
  if #v ~= oldLen then
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
// end quadruples (write time, item name, size written or empty when unsure,
// expiry written) of items written by plain sets, the time after a '-'
// when the access is held (TouchInterval). Writes what Store.Sync
// batched (books.go) and sweeps the bucket.
//
// A plain set leaves the item's accounting (sz, items, bytes) and its lru
// and exp entries to this script, which makes them match the item as it
// now is, whoever wrote it since: so it can run late, twice, or after
// another node's script has accounted the item, and end right. Counts and
// touches of an older generation are dropped: a FlushAll came in between.
// An access time only moves forward (GT) and only for an item in the lru
// zset (XX), so a late one never resurrects a deleted item nor ages a
// rewritten one; a renewal applies only to the version read. The items
// this sync accounts enter the zset first, at their write time, so the
// touches that follow apply to them. A read of an item that another node's
// plain set wrote and that node has not synced yet is not recorded: the
// item's access time stays its write time, at most about that node's
// SyncInterval earlier than the read.
const syncScript = `
local meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local nows, ipfx = tonumber(ARGV[1]), ARGV[2]
local gen = redis.call('HGET', meta, 'g') or '0'
` + itemLua + forgetLua + sweepLua + `
local limit = tonumber(ARGV[8])
if limit > 0 then sweep(limit) end
local nt, nr = tonumber(ARGV[9]), tonumber(ARGV[10])
-- The items plain sets wrote, read and accounted with a few calls for the
-- whole chunk rather than four or five each: every redis.call costs Redis
-- about 0.6 µs besides its work.
local first = 11 + 2 * (nt + nr)
if first <= #ARGV then
  local names = {}
  for i = first, #ARGV, 4 do names[#names + 1] = ARGV[i + 1] end
  local olds = redis.call('HMGET', sz, unpack(names))
  local sizes, lruAdd, expAdd, expRem = {}, {}, {}, {}
  local items, bytes = 0, 0
  -- An item accounted at the size this process wrote needs no read: if
  -- another node rewrote it since, that node's accounting reads it. Its exp
  -- entry may be left out of date, which the sweep mends.
  local check, keys = {}, {}
  for j, n in ipairs(names) do
    local i = first + 4 * (j - 1)
    if olds[j] and olds[j] == ARGV[i + 2] then
      if ARGV[i + 3] ~= '0' then expAdd[#expAdd + 1], expAdd[#expAdd + 2] = ARGV[i + 3], n end
    else
      check[#check + 1] = j
      keys[#keys + 1] = ipfx .. n
    end
  end
  local blobs = #keys > 0 and redis.call('MGET', unpack(keys)) or {}
  for c, j in ipairs(check) do
    local n, w, old = names[j], ARGV[first + 4 * (j - 1)], olds[j]
    -- the header fields the accounting needs, without dec's table and copy
    local b, g, e, l, at = blobs[c]
    if b then g, e, l, at = string.match(b, '^(%d*),(%d*),%d*,%d*,%d*,%d*,%a*,(%d*)|()') end
    if g == gen and l == '' and (e == '0' or tonumber(e) > nows) then
      -- key bytes (after the namespace's ':') plus value bytes
      local size = #n - string.find(n, ':', 1, true) + #b - at + 1
      if not old then
        items, bytes = items + 1, bytes + size
        sizes[#sizes + 1], sizes[#sizes + 2] = n, size
      elseif tonumber(old) ~= size then
        bytes = bytes + size - tonumber(old)
        sizes[#sizes + 1], sizes[#sizes + 2] = n, size
      end
      -- a write time after '-' is a held access: an accounted item keeps its entry
      if string.byte(w, 1) == 45 then
        if not old then lruAdd[#lruAdd + 1], lruAdd[#lruAdd + 2] = string.sub(w, 2), n end
      else
        lruAdd[#lruAdd + 1], lruAdd[#lruAdd + 2] = w, n
      end
      if e == '0' then
        expRem[#expRem + 1] = n
      else
        expAdd[#expAdd + 1], expAdd[#expAdd + 2] = e, n
      end
    else
      forget(n)
      if g == gen and l == '' then redis.call('UNLINK', keys[c]) end -- expired
    end
  end
  if #sizes > 0 then redis.call('HSET', sz, unpack(sizes)) end
  if items ~= 0 then redis.call('HINCRBY', meta, 'items', items) end
  if bytes ~= 0 then redis.call('HINCRBY', meta, 'bytes', bytes) end
  if #lruAdd > 0 then redis.call('ZADD', lru, 'GT', unpack(lruAdd)) end
  if #expAdd > 0 then redis.call('ZADD', exp, unpack(expAdd)) end
  if #expRem > 0 then redis.call('ZREM', exp, unpack(expRem)) end
end
if ARGV[3] ~= gen then return 0 end
if ARGV[4] ~= '0' then redis.call('HINCRBY', meta, 'hits', ARGV[4]) end
if ARGV[5] ~= '0' then redis.call('HINCRBY', meta, 'misses', ARGV[5]) end
if ARGV[6] ~= '0' then redis.call('HINCRBY', meta, 'bh', ARGV[6]) end
if nt > 0 then redis.call('ZADD', lru, 'XX', 'GT', unpack(ARGV, 11, 10 + 2 * nt)) end
for i = 11 + 2 * nt, 10 + 2 * (nt + nr), 2 do
  local it = ipfx .. ARGV[i]
  local t = dec(redis.call('GET', it))
  if t and t.g == gen and t.c == ARGV[i + 1] and t.e == '0' and t.l == '' then
    t.r = ARGV[1]
    save(it, t, ARGV[7])
  end
end
return 1
`

// markScript: KEYS item; ARGV[1] an item string's header as a read found
// it or a plain set wrote it (everything up to and including '|'), [2] that
// header with the meta protocol's hit-before mark added. Marks that version
// of the item, unmarked and unlocked, and no other: returns 1 when the item
// still starts with the header (now marked), 0 when it was rewritten,
// deleted, locked or re-marked since. Comparing the header whole, rather
// than decoding the item (itemLua) to compare its CAS id, took Redis 6-9
// µs per mark against 10-14.
const markScript = `
local b = redis.call('GET', KEYS[1])
if b and string.sub(b, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2] .. string.sub(b, #ARGV[1] + 1), 'KEEPTTL')
  return 1
end
return 0
`

// statsScript: KEYS meta, lru, exp, sz; ARGV[1] now (ms), [2] now (s),
// [3] item key prefix. Sweeps the bucket, repairs the accounting of items
// Redis evicted on its own, and returns {hits, misses, byte_hits, items,
// bytes, oldest access (Unix s) or -1}.
const statsScript = `
local meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, nows, ipfx = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local gen = redis.call('HGET', meta, 'g') or '0'
` + itemLua + forgetLua + sweepLua + `
sweep(10000)

local oldest = -1
for _ = 1, 1000 do
  local first = redis.call('ZRANGE', lru, 0, 0, 'WITHSCORES')
  if #first == 0 then break end
  local t = dec(redis.call('GET', ipfx .. first[1]))
  if t and t.g == gen then
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
const reapScript = itemLua + `
local t = dec(redis.call('GET', KEYS[1]))
if t and t.g ~= (redis.call('HGET', KEYS[2], 'g') or '0') then
  redis.call('UNLINK', KEYS[1])
  return 1
end
return 0
`

// setExpiryLua gives live item t (named name) the expiry e (Unix s as a
// string, '0' = never) in the exp zset and returns the Redis TTL to save it
// with; defined after the prelude.
const setExpiryLua = `
local function setExpiry(t, e, ttl)
  t.e = e
  if tonumber(e) > 0 then redis.call('ZADD', exp, e, name) else redis.call('ZREM', exp, name) end
  return ttl
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
local st, t = load()
if st ~= 'live' then
  redis.call('HINCRBY', meta, 'misses', 1)
  if ARGV[9] == '' or st == 'locked' then return false end
  forget(name)
  redis.call('DEL', item)
  local id = nextCAS(tonumber(ARGV[13]), tonumber(ARGV[14]))
  local e = tonumber(ARGV[9])
  if e == 0 or now < e * 1000 then
    save(item, {g = gen, e = ARGV[9], k = '1', f = '0', c = id, r = ARGV[2], m = 'wa', l = '', v = ''}, ARGV[10])
    account(name, tonumber(ARGV[5]), e)
  end
  return {'', '1', '0', id, ARGV[9], '0', '1', '0', '1', '0', '0'}
end
local idle = 0
local la = redis.call('ZSCORE', lru, name)
-- an item a plain set wrote has no lru entry until the sync: its access is ARGV[15]
local last = tonumber(ARGV[15])
if la then last = math.max(tonumber(la), last) end
if last > 0 then idle = math.max(0, nows - last) end
local ttl, dirty = nil, false
if ARGV[7] ~= '' then
  ttl, dirty = setExpiry(t, ARGV[7], ARGV[8]), true
elseif t.e == '0' then
  ttl = ARGV[6]
end
local e = t.e
local stale, hitBefore = has(t, 'x'), has(t, 'h')
local won, lost = '0', '0'
if has(t, 'w') then
  lost = '1'
elseif stale or (ARGV[11] ~= '' and e ~= '0' and tonumber(e) - nows < tonumber(ARGV[11])) then
  won = '1'
  t.m, dirty = t.m .. 'w', true
end
redis.call('HINCRBY', meta, 'hits', 1)
redis.call('HINCRBY', meta, 'bh', tonumber(ARGV[5]) + #t.v)
if ARGV[12] ~= '1' then
  redis.call('ZADD', lru, nows, name)
  if not hitBefore then t.m, dirty = t.m .. 'h', true end
end
if dirty then
  save(item, t, ttl)
elseif ttl then
  redis.call('PEXPIRE', item, ttl)
end
return {t.v, t.k, t.f, t.c, e, stale and '1' or '0', won, lost, '0', hitBefore and '1' or '0', string.format('%d', idle)}
`

// concatScript: ARGV[5] key size, [6] value, [7] '1' to prepend, [8]
// expected cas (” for any), [9] value limit, [10] buckets, [11] bucket,
// [12] idle TTL (ms). Returns the new cas id, or -1 (not found), -2 (cas
// mismatch), -3 (too large).
const concatScript = prelude + setExpiryLua + `
sweep(8)
local st, t = load()
if st ~= 'live' then return -1 end
if ARGV[8] ~= '' and t.c ~= ARGV[8] then return -2 end
local v
if ARGV[7] == '1' then v = ARGV[6] .. t.v else v = t.v .. ARGV[6] end
if #v > tonumber(ARGV[9]) then return -3 end
local id = nextCAS(tonumber(ARGV[10]), tonumber(ARGV[11]))
-- a new value carries none of the old marks, and is accounted (resize)
t.v, t.k, t.c, t.m = v, '1', id, 'a'
if t.e == '0' then save(item, t, ARGV[12]) else save(item, t) end
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
local st, t = load()
if st ~= 'live' then return -1 end
if ARGV[6] ~= '' and t.c ~= ARGV[6] then return -2 end
if ARGV[7] ~= '1' and ARGV[8] ~= '1' then
  forget(name)
  redis.call('DEL', item)
  return 0
end
local id = nextCAS(tonumber(ARGV[11]), tonumber(ARGV[12]))
t.c = id
if ARGV[8] == '1' then
  t.v, t.k, t.m = '', '1', 'a'
  resize(tonumber(ARGV[5]))
end
if ARGV[7] == '1' then
  t.m = string.gsub(t.m, 'w', '')
  if not has(t, 'x') then t.m = t.m .. 'x' end
end
local ttl
if ARGV[9] ~= '' then ttl = setExpiry(t, ARGV[9], ARGV[10]) end
save(item, t, ttl)
redis.call('ZADD', lru, nows, name)
return id
`

// pruneScript: KEYS meta, lru, exp, sz; ARGV[1] item key prefix, [2] first
// rank, [3] count. Forgets the accounting of the lru entries in that range
// of ranks whose item Redis no longer holds: evicted under maxmemory. The
// bookkeeping keys carry no TTL, so a volatile-* policy never evicts them,
// and without this their entries for evicted items stayed until they alone
// filled Redis and every write failed. Returns {entries looked at,
// entries forgotten}.
const pruneScript = `
local meta, lru, exp, sz = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ipfx, first, count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
` + forgetLua + `
local names = redis.call('ZRANGE', lru, first, first + count - 1)
local gone = 0
for _, n in ipairs(names) do
  if redis.call('EXISTS', ipfx .. n) == 0 then
    forget(n)
    gone = gone + 1
  end
end
return {#names, gone}
`

// casBlockScript: KEYS meta; ARGV[1] now (ms), [2] buckets, [3] block size.
// Reserves a block of CAS counts for a node's plain sets, starting a missing
// counter at the clock as every script does. Returns the block's last count.
const casBlockScript = `
local meta, now = KEYS[1], tonumber(ARGV[1])
` + casFloorLua + `
casFloor(tonumber(ARGV[2]))
return redis.call('HINCRBY', meta, 'cas', tonumber(ARGV[3]))
`
