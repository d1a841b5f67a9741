-- The C family of the link boundary's hook slots (core/link/hook.h, tl_hook_*)
-- and of the command-line impairment counters. The only module that calls
-- these functions; tcplua.hook runs the Lua side over them.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {
  IN = C.TL_HOOK_IN, OUT = C.TL_HOOK_OUT, DROPS = C.TL_HOOK_DROPS, SYN_IN = C.TL_HOOK_SYN_IN,
  DIR_IN = C.TL_PCAP_DIR_IN, DIR_OUT = C.TL_PCAP_DIR_OUT,
}

-- Functions whose C result is already a Lua number are the C functions
-- themselves (see c/sock.lua). Pointers come back as cdata, NULL == nil.
M.enable = C.tl_hook_enable       -- (st, mask) -> 0 or error
function M.pending(st) return C.tl_hook_pending(st) ~= 0 end
M.next = C.tl_hook_next           -- (st) -> the next held segment or NULL
M.release = C.tl_hook_release     -- (st, seg, copies, delay_us, note, now)
M.set_bytes = C.tl_hook_set_bytes -- (st, seg, buf, n) -> 0 or error
M.inject = C.tl_hook_inject       -- (st, dir, buf, n, delay_us, note, now) -> 0 or error
M.sock = C.tl_hook_sock           -- (st, seg) -> the segment's socket or NULL
M.fix_checksums = C.tl_hook_fix_checksums
function M.note(seg) return ffi.string(seg.note) end
function M.set_pcap(st, cap) C.tl_hook_set_pcap(st, cap) end

-- The counters of the impairment on direction d (0 rx, 1 tx) as
-- { name = n }, or nil without one.
local IMPAIR = { "in", "out", "lost", "dup", "reordered", "corrupted", "overflow", "oversize" }
function M.impair_counts(st, d)
  local im = C.tl_hook_impair(st, d)
  if im == nil then return nil end
  local t = {}
  for k = 1, #IMPAIR do t[IMPAIR[k]] = tonumber(C.tl_impair_count(im, k - 1)) end
  return t
end
M.IMPAIR = IMPAIR

-- Scratch for building a segment.
function M.buffer() return ffi.new("uint8_t[65536]") end

return M
