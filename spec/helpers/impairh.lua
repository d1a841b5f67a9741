-- A tl_impair driven from a spec: every packet it delivers is recorded as
-- { seq = n, t = now, data = s } (seq: the decimal number the packet starts
-- with). Used by spec/unit/impair_spec.lua and impair_netem_spec.lua. Files
-- using it must keep out of the JIT (jit.off(true, true)): delivery calls
-- back into Lua from C.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

function M.harness(cfg_fields, seed)
  local h = { out = {}, now = 0 }
  local cfg = ffi.new("tl_impair_config", cfg_fields or {})
  h.cb = ffi.cast("tl_output_fn", function(_, pkt, len)
    local s = ffi.string(pkt, len)
    h.out[#h.out + 1] = { seq = tonumber(s:match("^(%d+)")), t = h.now, data = s }
    return 0
  end)
  h.im = C.tl_impair_new(cfg, seed or 1, h.cb, nil)
  function h.push(s, now)
    h.now = now or h.now
    C.tl_impair_push(h.im, s, #s, h.now)
  end
  -- deliver what is due at now (the clock moves to now)
  function h.poll(now)
    h.now = now or h.now
    return tonumber(C.tl_impair_poll(h.im, h.now))
  end
  -- deliver everything due up to t, each packet at its own deadline
  function h.run_until(t)
    for _ = 1, 1e6 do
      local d = tonumber(C.tl_impair_poll(h.im, h.now))
      if d < 0 or d > t then break end
      h.now = math.max(h.now, d)
    end
    h.now = math.max(h.now, t)
  end
  -- poll until nothing is left, moving the clock to each deadline
  function h.drain(limit)
    for _ = 1, limit or 1e6 do
      local d = tonumber(C.tl_impair_poll(h.im, h.now))
      if d < 0 then return end
      h.now = math.max(h.now, d)
    end
    error("impairment did not drain")
  end
  function h.count(i) return tonumber(C.tl_impair_count(h.im, i)) end
  function h.free()
    C.tl_impair_free(h.im)
    h.cb:free()
  end
  return h
end

-- Packet i: its number first, 100 bytes (or size) in all.
function M.pkt(i, size) return string.format("%06d", i) .. string.rep("p", (size or 100) - 6) end

return M
