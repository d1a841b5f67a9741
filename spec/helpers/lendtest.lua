-- For the specs of lent sends (lua/tcplua/lend.lua over tl_send_ref): two
-- Lua runtimes on the sim link (helpers.luasim), byte patterns that show a
-- misplaced or stale span, garbage churn, and what the runtime still lends.
--
--   local lt = require "helpers.lendtest"
--   local sim, a, b, log = lt.setup(11, { loss = 0.05 })
local core = require "tcplua.core"
local lend = require "tcplua.lend"
local luasim = require "helpers.luasim"
local assert = require "luassert"
local C = core.C

local M = {}

-- luasim.pair(seed), with impair (sim:impair's cfg) on every packet.
function M.setup(seed, impair)
  local sim, a, b, log = luasim.pair(seed)
  if impair then sim:impair(nil, impair) end
  return sim, a, b, log
end

-- Bytes that change with position, so a misplaced or stale span shows.
function M.pattern(n, seed)
  local t = {}
  for i = 1, math.ceil(n / 8) do t[i] = string.format("%07x|", (i * 7919 + seed) % 0xfffffff) end
  return table.concat(t):sub(1, n)
end

-- Frees unreferenced strings and allocates over them: a string the stack
-- read after its anchor went would show as wrong bytes.
function M.churn()
  collectgarbage("collect")
  local junk = {}
  for i = 1, 24 do junk[i] = string.rep(string.char(65 + i), 8192 + 97 * i) end
  return #junk
end

-- conn:send that queues what fits and does not wait for the rest.
function M.send_now(conn, data)
  conn:settimeouts(nil, 0, nil)
  local ok, err, sent = conn:send(data)
  conn:settimeouts(nil, nil, nil)
  return ok, err, sent
end

-- A stack counter of runtime rt, by name.
function M.counter(rt, name)
  for i = 0, C.tl_stats_count() - 1 do
    if core.ffi.string(C.tl_stats_name(i)) == name then return tonumber(C.tl_stats_get(rt.st, i)) end
  end
  error("no counter " .. name)
end

-- Anchors and anchored sockets left in runtime rt.
function M.anchors(rt) return lend.count(rt), lend.sockets(rt) end

-- Bytes of send and receive ring storage the stack of runtime API api holds.
function M.ring_bytes(api) return tonumber(C.tl_tcp_ring_bytes(api._runtime.st)) end

-- Runs the sim until runtime API a lends nothing, within ms virtual ms.
function M.released(sim, a, ms, msg)
  assert.is_true(sim:run_until(function() return lend.count(a._runtime) == 0 end, ms), msg)
end

return M
