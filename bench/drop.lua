-- wrk script for bench/drop.py: every connection is one claimer that sends exactly ONE request,
-- at its own moment inside the drop window, and records the answer.
--
--   wrk -t T -c N -d D -s bench/drop.lua URL -- MODE PREFIX START_MS SPREAD_MS N OUT_DIR T
--
-- MODE "claim": POST {"platform":"ios","user_identifier":PREFIX<thread>-<n>} to URL (a claim);
-- MODE "get":   GET URL (the same drop against /healthz, the reference).
-- The N connections are opened when wrk starts; their requests go out at START_MS (epoch ms)
-- plus evenly spaced offsets over SPREAD_MS, so arrivals do not wait on earlier answers (an
-- open loop: a slow answer never delays the next claimer). After its answer a connection
-- waits for ever (a delay far past the run); a thread stops once each of its connections has
-- had its answer. Each thread writes to OUT_DIR/thread-<tid>.txt one line per event:
--   send SENT_MS                     a claimer's request went out
--   answer STATUS ANSWERED_MS CODE   (CODE: the promo code, or a refusal's problem code)
--   resend                           the server closed a connection before its answer and
--                                    wrk reopened it (that claimer stays unanswered)
--   done                             every claimer of the thread was answered
-- wrk measures each request's latency itself (send to answer); done() prints its percentiles.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } drop_timespec;
int clock_gettime(int clk_id, drop_timespec *tp);
]]
local ts = ffi.new("drop_timespec")
local function now_ms()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME: comparable with Python's time.time()
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local mode, prefix, start_ms, spread_ms, total, out
local nthreads, mine
local scheduled, sent, answered, closed = 0, 0, 0, false

function init(args)
  mode, prefix = args[1], args[2]
  start_ms, spread_ms, total = tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  nthreads = tonumber(args[7])
  mine = math.floor(total / nthreads)
  out = io.open(args[6] .. "/thread-" .. tid .. ".txt", "w")
end

function delay()
  if scheduled < mine then
    -- this thread's k-th claimer is claimer tid + k * threads of the whole drop
    local index = tid + scheduled * nthreads
    scheduled = scheduled + 1
    local wait = start_ms + index * spread_ms / total - now_ms()
    if wait < 0 then
      return 0
    end
    return math.floor(wait)
  end
  return 3600000 -- answered: this connection sends nothing more
end

function request()
  if scheduled == 0 then
    -- wrk calls request() once at start-up to check the script: not a claimer
    return wrk.format("GET", "/healthz")
  end
  if sent >= mine then
    -- the server closed a connection before answering it and wrk opened another: that
    -- claimer is counted unanswered, and the new connection asks nothing of the claim route
    out:write("resend\n")
    return wrk.format("GET", "/healthz?resent")
  end
  sent = sent + 1
  local t = now_ms()
  out:write("send ", string.format("%.3f", t), "\n")
  if mode == "get" then
    return wrk.format("GET", wrk.path)
  end
  local body = '{"platform":"ios","user_identifier":"' .. prefix .. tid .. "-" .. sent .. '"}'
  return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if closed or answered >= sent or (mode == "claim" and string.find(body, '"status":"ok"', 1, true)) then
    -- unsolicited (an idle connection's timeout answer) or a resent connection's filler
    return
  end
  answered = answered + 1
  local code = string.match(body, '"code"%s*:%s*"([^"]*)"') or "-"
  out:write("answer ", status, " ", string.format("%.3f", now_ms()), " ", code, "\n")
  if answered >= mine then
    out:write("done\n")
    out:close()
    closed = true
    wrk.thread:stop()
  end
end

-- main state, after the run: wrk's own latency histogram (send to answer, per request)
function done(summary, latency, requests)
  io.write(string.format(
    "DROP-LATENCY-US p50=%d p99=%d max=%d requests=%d timeouts=%d connect=%d read=%d write=%d\n",
    latency:percentile(50), latency:percentile(99), latency.max, summary.requests,
    summary.errors.timeout, summary.errors.connect, summary.errors.read, summary.errors.write))
end
