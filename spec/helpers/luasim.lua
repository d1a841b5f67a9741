-- Two Lua runtimes (10.0.0.1 and 10.0.0.2) on the sim link, for specs of
-- the Lua API. Error reports (a callback that raised, ...) go to `log`,
-- which a spec expects empty.
--
--   local sim, a, b, log = require("helpers.luasim").pair(seed)
--   local sim, a, b, log = luasim.pair(seed, { tcp_sndbuf = 16384 })  -- both stacks
--   luasim.serve(a, function(conn) conn:send("hi") end)  -- waits for a cue byte
--   local got = luasim.fetch(sim, b)   -- cue, read to the end (runs the sim)
local M = {}
local assert = require "luassert"

function M.pair(seed, cfg)
  local log = {}
  local sim = require("tcplua.sim").new { seed = seed or 1, latency_ms = 1,
    report = function(m) log[#log + 1] = m end }
  local function stack(addr)
    local c = { addr = addr }
    for k, v in pairs(cfg or {}) do c[k] = v end
    return sim:stack(c)
  end
  return sim, stack("10.0.0.1"), stack("10.0.0.2"), log
end

-- A coroutine server on runtime a, port 7 (or port): waits for the
-- client's cue byte (see M.client), then runs body(conn).
function M.serve(a, body, port)
  assert(a.listen(port or 7, function(conn)
    assert(conn:receive(1))
    body(conn)
  end))
end

-- A client on runtime b in its own coroutine: connects to 10.0.0.1 (port
-- opts.port, 7), sends "x", the cue the servers in these specs wait for
-- (unless opts.cue == false), then runs body(c).
function M.client(b, body, opts)
  opts = opts or {}
  b.spawn(function()
    local c = assert(b.connect("10.0.0.1", opts.port or 7))
    if opts.cue ~= false then c:send("x") end
    body(c)
  end)
end

-- A client (as M.client) that reads to the end, after shutting down its
-- sending side (opts.shutdown) and idling opts.idle ms, if asked. Runs the sim until
-- the read returns, within opts.limit virtual ms (60000), calling
-- opts.each() at every step (garbage churn, sampling); returns what
-- receive("*a") returned.
function M.fetch(sim, b, opts)
  opts = opts or {}
  local res
  M.client(b, function(c)
    if opts.shutdown then c:shutdown("send") end
    if opts.idle then b.sleep(opts.idle) end
    res = { c:receive("*a") }
  end, opts)
  local each = opts.each
  assert.is_true(sim:run_until(function()
    if each then each() end
    return res ~= nil
  end, opts.limit or 60000))
  return res[1], res[2], res[3]
end

return M
