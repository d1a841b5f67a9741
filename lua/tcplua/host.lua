-- The Lua side of the contract with the tcplua binary (core/host/main.c):
--   attach(info)   once, before the script runs: builds the default runtime
--                  on info.stack (a lightuserdata tl_stack*);
--   step(now_us)   after each batch of TUN input and on each timer wake;
--                  returns the next Lua deadline in us (or -1) and the
--                  stop flag (tcplua.stop() was called);
--   shutdown()     on SIGINT/SIGTERM, before the stack is freed.
local stack = require "tcplua.c.stack"
local runtime = require "tcplua.runtime"
local tcplua = require "tcplua"
local hook = require "tcplua.hook"
local fault = require "tcplua.fault"

local M = {}

function M.attach(info)
  assert(type(info) == "table", "tcplua.host.attach: expected the info table")
  assert(info.stack ~= nil, "tcplua.host.attach: info.stack is missing")
  local extra = {}
  for _, k in ipairs({ "dev", "addr", "host", "prefix", "mtu", "seed", "quiet", "script" }) do
    extra[k] = info[k]
  end
  extra.args = info.args or {}
  local rt = runtime.new {
    stack = stack.from_pointer(info.stack),
    now_us = tonumber(info.now_us) or 0,
    config = extra,
  }
  M.runtime = rt
  tcplua._set_default(rt)
  -- --seed N also seeds the fault library: same seed, same faults.
  if tonumber(info.seed) then fault.seed(tonumber(info.seed)) end
  M.install_recorders(rt, info)
  M.print_stats = info.stats
  return rt
end

-- --trace and --tseq: observers that see every segment with the verdict
-- of all hooks (so they record what faults did), times in ms since start.
function M.install_recorders(rt, info)
  local t0 = (tonumber(info.now_us) or 0) / 1000
  if info.trace then
    local trace = require "tcplua.trace"
    local err = io.stderr
    hook.observe(rt, function(seg, dir, _, now, verdict, state)
      err:write(string.format("%.3f ", now - t0), trace.format(seg, dir, state, verdict), "\n")
    end)
  end
  if info.tseq then
    local trace = require "tcplua.trace"
    local w, werr = trace.tseq_writer(info.tseq)
    if not w then error("--tseq: " .. tostring(werr), 0) end
    M.tseq = w
    local cur
    local rec = trace.tseq_hook(w, function() return cur end)
    hook.observe(rt, function(seg, dir, conn, now, verdict)
      if seg.proto ~= "tcp" then return end -- a gateway's UDP, ICMP...: no sequence space
      cur = verdict
      rec(seg, dir, conn, now - t0)
    end)
  end
end

function M.step(now_us)
  local rt = M.runtime
  if not rt then return -1, false end
  return rt:step(tonumber(now_us))
end

-- With --stats, the counters only Lua keeps (faults applied by the fault
-- library, hook errors, accept filter verdicts), as "name value" lines
-- like the binary's own, which follow.
local LUA_ONLY = { hook_errors = true, accept_refused = true, accept_dropped = true, hook_corrupted = true,
  hook_sliced = true, hook_replaced = true, gateway_resets = true }

function M.shutdown()
  if M.runtime and M.print_stats then
    local s, names = M.runtime.api.stats(), {}
    for k in pairs(s) do
      if LUA_ONLY[k] or k:match("^fault_") then names[#names + 1] = k end
    end
    table.sort(names)
    for _, k in ipairs(names) do io.stdout:write(k, " ", tostring(s[k]), "\n") end
    io.stdout:flush()
  end
  if M.runtime then M.runtime:shutdown() end
  if M.tseq then
    M.tseq:close()
    M.tseq = nil
  end
end

return M
