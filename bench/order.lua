-- wrk: one new order a request (a fresh idempotency key and phone each), one unit of the demo's
-- caramels (product 2, no sale). Counts the answers by status.
-- `-- resend` after the URL: both threads send the same keys in the same order, so every order
-- is sent twice at about the same time (a retry racing its first try: one order, two answers).
-- `thread_id` is set in each thread's own state by setup() (a global there: a local here would
-- hide it, and both threads would send the same keys)
local counter = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  if args[1] == "resend" then
    thread_id = 1
  end
end

function request()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  local body = string.format(
    '{"idempotency_key":"wrk-%012d","lines":[{"product_id":2,"quantity":1}],'
      .. '"customer":{"name":"Wrk Shopper","phone":"+86139%08d","address":"1 Harbour Row, Porthaven"}}',
    n, n % 100000000)
  return wrk.format("POST", "/api/place_order", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(all) do table.insert(parts, k .. ": " .. v) end
  io.write("answers by status: " .. table.concat(parts, ", ") .. "\n")
  io.write(string.format("p50 %.1f ms, p99 %.1f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
