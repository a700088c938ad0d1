-- wrk script for bench/intake.py: every request is a distinct, pre-signed Standard Webhooks event.
-- wrk's Lua has no HMAC, so intake.py signs the events beforehand into a file, one per line:
--   webhook-id <TAB> webhook-timestamp <TAB> webhook-signature <TAB> body
-- Usage: wrk ... -s intake.lua <url> -- <file> <wrk threads>
-- Thread k (of n) takes lines k, k+n, k+2n, ... so no two threads send the same event. A thread that
-- runs out of events starts over and sets `wrapped` (the hub then answers 200 "duplicate": the run
-- reports it and was too small). `nsent` counts requests handed to wrk, so sent - answered is the
-- number still in flight when wrk stopped (the server may have stored them without wrk seeing the 202).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  reqs, pos, wrapped = {}, 0, 0
  n202, n200, nother, nsent = 0, 0, 0, 0
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = ts,
        ["webhook-signature"] = sig,
      }
      reqs[#reqs + 1] = wrk.format("POST", nil, headers, body)
    end
    i = i + 1
  end
end

function request()
  pos, nsent = pos + 1, nsent + 1
  if pos > #reqs then
    pos, wrapped = 1, 1
  end
  return reqs[pos]
end

function response(status, headers, body)
  if status == 202 then
    n202 = n202 + 1
  elseif status == 200 then
    n200 = n200 + 1
  else
    nother = nother + 1
  end
end

function done(summary, latency, requests)
  local a, b, c, w, sent = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a, b, c, sent = a + t:get("n202"), b + t:get("n200"), c + t:get("nother"), sent + t:get("nsent")
    w = math.max(w, t:get("wrapped"))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"n202": %d, "n200": %d, "nother": %d, "wrapped": %d, "errors": %d, "sent": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, a, b, c, w, e.connect + e.read + e.write + e.timeout, sent))
end
