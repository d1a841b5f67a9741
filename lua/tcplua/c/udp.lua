-- The C family of UDP sockets (core/include/api_udp.h): opening, binding,
-- connecting, sending, receiving, options and the event queue. The only
-- module that calls these functions; tcplua.udp builds the socket objects
-- on it. Results are Lua numbers; addresses are 16-byte Lua strings of
-- either family, IPv4 mapped (::ffff:a.b.c.d), nil for the wildcard.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {
  EAGAIN = C.TL_EAGAIN, MAX = C.TL_UDP_MAX_PAYLOAD,
  EV_READABLE = C.TL_UDP_EV_READABLE, EV_ERROR = C.TL_UDP_EV_ERROR,
  E = { INVAL = C.TL_EINVAL, NOTCONN = C.TL_ENOTCONN },
  OPT = { rcvbuf = C.TL_UDP_OPT_RCVBUF, checksum = C.TL_UDP_OPT_CHECKSUM },
}

-- Out-parameters and the receive buffer: one Lua state runs one thread,
-- and no caller keeps them across a call.
local err_out = ffi.new("int[1]")
local addr_out, port_out = ffi.new("uint8_t[32]"), ffi.new("uint16_t[2]")
local buf = ffi.new("uint8_t[?]", C.TL_UDP_MAX_PAYLOAD)
local u8ptr = ffi.typeof("const uint8_t *")

-- A new unbound socket, or nil, error code.
function M.open(st)
  err_out[0] = 0
  local u = C.tl_udp_open(st, err_out)
  if u == nil then return nil, err_out[0] end
  return u
end

local function a16(addr) return addr and ffi.cast(u8ptr, addr) or nil end

-- (u, addr16 or nil, port) -> 0 or error
function M.bind(u, addr, port) return C.tl_udp_bind6(u, a16(addr), port) end
function M.connect(u, addr, port) return C.tl_udp_connect6(u, a16(addr), port) end
M.close = C.tl_udp_close
M.set_user = C.tl_udp_set_user

function M.user(u) return tonumber(C.tl_udp_user(u)) end

-- (u, data string, addr, port, now) -> bytes sent or error code
function M.sendto(u, data, addr, port, now)
  return tonumber(C.tl_udp_sendto6(u, ffi.cast(u8ptr, data), #data, a16(addr), port, now))
end

-- The next datagram (at most cap bytes of it) as data, addr, port; or
-- nil, error code (EAGAIN when none is queued).
function M.recvfrom(u, cap)
  if cap > M.MAX then cap = M.MAX end
  local r = tonumber(C.tl_udp_recvfrom6(u, buf, cap, addr_out, port_out))
  if r < 0 then return nil, r end
  return ffi.string(buf, r < cap and r or cap), ffi.string(addr_out, 16), port_out[0]
end

function M.queued(u) return tonumber(C.tl_udp_queued(u)) end
function M.drops(u) return tonumber(C.tl_udp_drops(u)) end
function M.count(st) return tonumber(C.tl_udp_count(st)) end
M.setopt = C.tl_udp_setopt
function M.getopt(u, opt) return tonumber(C.tl_udp_getopt(u, opt)) end

-- local address, local port, remote address, remote port (16-byte
-- strings, :: for the wildcard / no peer).
function M.addrs(u)
  C.tl_udp_addrs6(u, addr_out, port_out, addr_out + 16, port_out + 1)
  return ffi.string(addr_out, 16), port_out[0], ffi.string(addr_out + 16, 16), port_out[1]
end

function M.new_event() return ffi.new("tl_udp_event") end
function M.next_event(st, ev) return C.tl_udp_next_event(st, ev) ~= 0 end

return M
