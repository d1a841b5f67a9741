-- The C family of the pcapng writer (core/link/pcap.h, tl_pcap_*). The only
-- module that calls these functions; tcplua.pcap is the API over it.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

-- Another module may have declared it already; either way it is there.
pcall(ffi.cdef, "char *strerror(int errnum);")

local M = { DIR_IN = C.TL_PCAP_DIR_IN, DIR_OUT = C.TL_PCAP_DIR_OUT, DIR_UNKNOWN = C.TL_PCAP_DIR_UNKNOWN }

-- A writer (closed when collected), or nil, the system's reason.
function M.open(path)
  local p = C.tl_pcap_open(path)
  if p == nil then return nil, ffi.string(C.strerror(ffi.errno())) end
  return ffi.gc(p, C.tl_pcap_close)
end

-- pkt: a string or a pointer to len bytes. 0 on success.
function M.write(p, pkt, len, ts, dir, comment)
  return tonumber(C.tl_pcap_write(p, ffi.cast("const uint8_t *", pkt), len, ts, dir, comment))
end

function M.count(p) return tonumber(C.tl_pcap_count(p)) end

-- Closes now (no finalizer left); 0 on success.
function M.close(p) return tonumber(C.tl_pcap_close(ffi.gc(p, nil))) end

return M
