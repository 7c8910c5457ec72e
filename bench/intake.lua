-- wrk script for bench/intake.py: POSTs real GitHub payloads, pre-signed by the harness,
-- each with a unique X-GitHub-Delivery. Arguments after `--`: the generated data file (a Lua
-- table of {event, signature, body file}) and the active seconds. After the active seconds
-- each connection sends nothing more ("drain"), so every request sent gets its answer before
-- wrk stops: sent == answered, and the server stored exactly the 202s wrk counted.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local threads, next_id = {}, 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- per-thread globals (read back with thread:get in done)
sent, got202, got200, other, first, last = 0, 0, 0, 0, 0, 0
local heads, bodies, deadline
local verified = false -- wrk calls request() once on thread 1 before the run, to check it

function init(args)
  local host = wrk.host .. (wrk.port and (":" .. wrk.port) or "")
  heads, bodies = {}, {}
  for i, p in ipairs(dofile(args[1])) do
    local f = assert(io.open(p[3], "rb"))
    bodies[i] = f:read("*a")
    f:close()
    heads[i] = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. host
      .. "\r\nUser-Agent: GitHub-Hookshot/bench\r\nContent-Type: application/json"
      .. "\r\nX-GitHub-Event: " .. p[1] .. "\r\nX-Hub-Signature-256: " .. p[2]
      .. "\r\nContent-Length: " .. #bodies[i] .. "\r\nX-GitHub-Delivery: "
  end
  deadline = now() + tonumber(args[2])
  math.randomseed(tid * 7919 + os.time())
end

function request()
  if not verified and tid == 1 then
    verified = true
    return heads[1] .. "verify\r\n\r\n" .. bodies[1]
  end
  local t = now()
  if first == 0 then first = t end
  if t >= deadline then return "" end -- drain: this connection stays idle until wrk stops
  sent = sent + 1
  local i = (sent + tid * 37) % #bodies + 1
  -- UUID-shaped, random prefix (index inserts land anywhere, as with GitHub's), unique suffix
  local guid = string.format("%08x-%04x-4%03x-%04x-%012x", math.random(0, 0x7fffffff), tid,
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), sent)
  return heads[i] .. guid .. "\r\n\r\n" .. bodies[i]
end

function response(status)
  if status == 202 then got202 = got202 + 1
  elseif status == 200 then got200 = got200 + 1
  else other = other + 1 end
  last = now()
end

function done(summary, latency)
  local t = { sent = 0, got202 = 0, got200 = 0, other = 0, first = 1e18, last = 0 }
  for _, th in ipairs(threads) do
    for _, k in ipairs({ "sent", "got202", "got200", "other" }) do t[k] = t[k] + th:get(k) end
    local f, l = th:get("first"), th:get("last")
    if f > 0 and f < t.first then t.first = f end
    if l > t.last then t.last = l end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"sent":%d,"got202":%d,"got200":%d,"other":%d,"first":%.6f,"last":%.6f,'
    .. '"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d},"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,'
    .. '"p999":%d,"max":%d}}\n',
    t.sent, t.got202, t.got200, t.other, t.first, t.last, summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
