-- wrk script of scripts/bench/run.sh: one closed-model row against
-- memcached-http, Webdis or the fixed-body ceiling, printed as one JSON line
-- in memcached-bench's -json format so -summarize reads wrk and
-- memcached-bench rows alike.
--
-- Configured through the environment, because wrk hands script arguments to
-- the threads' Lua states only and done() runs in the main one:
--   BENCH_WRK_LABEL   row label (ours-get, webdis-set, …)
--   BENCH_WRK_TARGET  memcached, webdis or fixed
--   BENCH_WRK_OP      get, set, incr or batchget (memcached-http only)
--   BENCH_WRK_BATCH   keys per batchGet (default 100)
--   BENCH_WRK_RAW     1: memcached-http values as application/octet-stream
--   BENCH_WRK_KEYS    key space (keys k0…k<n-1>, counters n0…n<n-1>, as memcached-bench names them)
--   BENCH_WRK_VALUE   value size in bytes
--   BENCH_WRK_NS      memcached-http namespace
--   BENCH_WRK_CONNS   connections (for the report; wrk's -c sets them)
--   BENCH_WRK_HZ      clock ticks per second of /proc/self/stat (getconf CLK_TCK)

local env = function(name, default)
	local v = os.getenv(name)
	if v == nil or v == "" then return default end
	return v
end

local label = env("BENCH_WRK_LABEL", "wrk")
local target = env("BENCH_WRK_TARGET", "memcached")
local op = env("BENCH_WRK_OP", "get")
local raw = env("BENCH_WRK_RAW", "0") == "1"
local nkeys = tonumber(env("BENCH_WRK_KEYS", "10000"))
local vsize = tonumber(env("BENCH_WRK_VALUE", "100"))
local ns = env("BENCH_WRK_NS", "bench")
local conns = tonumber(env("BENCH_WRK_CONNS", "64"))
local hz = tonumber(env("BENCH_WRK_HZ", "100"))
local batch = tonumber(env("BENCH_WRK_BATCH", "100"))

-- value is memcached-bench's valueBytes: printable, so it travels as-is in a
-- JSON string, a raw body or a Redis argument.
local function value(size)
	local alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	local t = {}
	for i = 0, size - 1 do
		local j = (i % #alphabet) + 1
		t[#t + 1] = alphabet:sub(j, j)
	end
	return table.concat(t)
end

-- Every request is rendered once, before the run, so request() only picks
-- one: the generator spends its time on sockets, not on string building.
local requests = {}

local function render(i)
	local key = "k" .. i
	local v = value(vsize)
	if target == "fixed" then
		return wrk.format("GET", "/")
	elseif target == "webdis" then
		if op == "get" then
			return wrk.format("GET", "/GET/" .. key .. (raw and ".txt" or ""))
		elseif op == "set" then
			return wrk.format("PUT", "/SET/" .. key, nil, v)
		else
			return wrk.format("GET", "/INCR/n" .. i)
		end
	end
	local path = "/v1/ns/" .. ns .. "/keys/"
	if op == "batchget" then
		-- batch keys drawn at random; a body per rendered request
		local keys = {}
		for j = 1, batch do
			keys[j] = '"k' .. math.random(0, nkeys - 1) .. '"'
		end
		return wrk.format("POST", "/v1/ns/" .. ns .. "/keys:batchGet", { ["Content-Type"] = "application/json" },
			'{"keys":[' .. table.concat(keys, ",") .. ']}')
	elseif op == "get" then
		if raw then
			return wrk.format("GET", path .. key, { ["Accept"] = "application/octet-stream" })
		end
		return wrk.format("GET", path .. key)
	elseif op == "set" then
		if raw then
			return wrk.format("PUT", path .. key, { ["Content-Type"] = "application/octet-stream" }, v)
		end
		return wrk.format("PUT", path .. key, { ["Content-Type"] = "application/json" }, '{"value":"' .. v .. '"}')
	else
		return wrk.format("POST", path .. "n" .. i .. ":incr", { ["Content-Type"] = "application/json" },
			'{"delta":1,"initial_value":0}')
	end
end

function init(args)
	local n = nkeys
	if target == "fixed" then n = 1 end
	if op == "batchget" then n = 1000 end
	for i = 0, n - 1 do
		requests[i + 1] = render(i)
	end
	math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end

function request()
	return requests[math.random(#requests)]
end

-- cpu_seconds is this process's user + system time so far (every thread).
local function cpu_seconds()
	local f = io.open("/proc/self/stat", "r")
	if not f then return 0 end
	local stat = f:read("*l")
	f:close()
	-- Fields after the command name, which is in parentheses and may hold spaces.
	local rest = stat:match("^.*%) (.*)$")
	local fields = {}
	for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
	-- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	return (tonumber(fields[12]) + tonumber(fields[13])) / hz
end

function done(summary, latency, requests_done)
	local secs = summary.duration / 1e6
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.status + e.timeout
	local mix = op .. ":1"
	local per = 1
	if op == "batchget" then per = batch end
	if target == "fixed" then mix = "get:1" end
	local line = string.format(
		'{"label":"%s","generator":"wrk","target":"%s","mix":"%s","model":"closed","conns":%d,"raw":%s,' ..
		'"value_size":%d,"key_space":%d,"dist":"uniform","duration_s":%.3f,"requests":%d,"keys":%d,' ..
		'"errors":%d,"misses":0,"requests_per_s":%.1f,"keys_per_s":%.1f,' ..
		'"latency_us":{"mean":%.1f,"p50":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f},' ..
		'"client_cpu_percent":%.1f%s}',
		label, target, mix, conns, raw and "true" or "false",
		vsize, nkeys, secs, summary.requests, summary.requests * per,
		errors, summary.requests / secs, summary.requests * per / secs,
		latency.mean, latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
		100 * cpu_seconds() / secs, op == "batchget" and string.format(',"batch":%d', batch) or "")
	io.stderr:write(string.format("wrk %s: %.0f requests/s, p99 %.2f ms, %d errors (status %d), client CPU %.0f %%\n",
		label, summary.requests / secs, latency:percentile(99) / 1e3, errors, e.status, 100 * cpu_seconds() / secs))
	io.stdout:write("BENCHJSON " .. line .. "\n")
end
