-- The Lua side of the contract with the tcplua binary (core/main.c):
--   attach(info)   once, before the script runs: builds the default runtime
--                  on info.stack (a lightuserdata tl_stack*);
--   step(now_us)   after each batch of TUN input and on each timer wake;
--                  returns the next Lua deadline in us (or -1) and the
--                  stop flag (tcplua.stop() was called);
--   shutdown()     on SIGINT/SIGTERM, before the stack is freed.
local core = require "tcplua.core"
local runtime = require "tcplua.runtime"
local tcplua = require "tcplua"

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
    stack = core.ffi.cast("tl_stack *", info.stack),
    now_us = tonumber(info.now_us) or 0,
    config = extra,
  }
  M.runtime = rt
  tcplua._set_default(rt)
  return rt
end

function M.step(now_us)
  local rt = M.runtime
  if not rt then return -1, false end
  return rt:step(tonumber(now_us))
end

function M.shutdown()
  if M.runtime then M.runtime:shutdown() end
end

return M
