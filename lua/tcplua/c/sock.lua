-- The C family of socket handles (core/include/api.h): making, connecting,
-- accepting, closing, options, state, addresses, the user word and the
-- event queue. The only module that calls these functions; the rest of the
-- Lua side comes here. Results are Lua numbers, the constants the callers
-- compare against are fields of this module. A function whose C result is
-- already a Lua number (int, void, a pointer) is the C function itself:
-- no Lua frame between caller and core, which the interpreter (coroutine
-- code between yields often runs there) would pay on every call.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {
  EAGAIN = C.TL_EAGAIN, ECLOSED = C.TL_ECLOSED,
  -- enum tl_tcp_state
  CLOSED = C.TL_CLOSED, SYN_SENT = C.TL_SYN_SENT, SYN_RECEIVED = C.TL_SYN_RECEIVED,
  CLOSE_WAIT = C.TL_CLOSE_WAIT, CLOSING = C.TL_CLOSING, LAST_ACK = C.TL_LAST_ACK,
  TIME_WAIT = C.TL_TIME_WAIT, FIN_WAIT_2 = C.TL_FIN_WAIT_2,
  -- tl_event.mask bits
  EV_READABLE = C.TL_EV_READABLE, EV_WRITABLE = C.TL_EV_WRITABLE, EV_CONNECTED = C.TL_EV_CONNECTED,
  EV_ACCEPT = C.TL_EV_ACCEPT, EV_CLOSED = C.TL_EV_CLOSED,
}

-- Error codes (tcplua.connbase gives them their words).
M.E = {
  CLOSED = C.TL_ECLOSED, RESET = C.TL_ERESET, TIMEOUT = C.TL_ETIMEOUT, REFUSED = C.TL_EREFUSED,
  UNREACH = C.TL_EUNREACH, INVAL = C.TL_EINVAL, ADDRINUSE = C.TL_EADDRINUSE,
  NOMEM = C.TL_ENOMEM, NOTCONN = C.TL_ENOTCONN, ABORTED = C.TL_EABORTED,
}

-- Socket options (tl_setopt/tl_getopt) under their Lua names.
M.OPT = {
  nodelay = C.TL_OPT_NODELAY, sndbuf = C.TL_OPT_SNDBUF, rcvbuf = C.TL_OPT_RCVBUF,
  keepalive = C.TL_OPT_KEEPALIVE, keepidle = C.TL_OPT_KEEPIDLE_MS,
  keepintvl = C.TL_OPT_KEEPINTVL_MS, keepcnt = C.TL_OPT_KEEPCNT, backlog = C.TL_OPT_BACKLOG,
  mss = C.TL_OPT_MSS, linger = C.TL_OPT_LINGER_MS, user_timeout = C.TL_OPT_USER_TIMEOUT_MS,
  congestion = C.TL_OPT_CONGESTION, recovery = C.TL_OPT_RECOVERY,
  syncookies = C.TL_OPT_SYNCOOKIES,
  timestamps = C.TL_OPT_TIMESTAMPS, sack = C.TL_OPT_SACK, wscale = C.TL_OPT_WSCALE,
  cork = C.TL_OPT_CORK, notsent_lowat = C.TL_OPT_NOTSENT_LOWAT,
}

-- Out-parameters: one Lua state runs one thread, and no caller keeps
-- them across a call, so one set serves every runtime.
local err_out = ffi.new("int[1]")
local addr_out, port_out = ffi.new("uint32_t[2]"), ffi.new("uint16_t[2]")
local info_out = ffi.new("tl_tcp_info")

M.socket = C.tl_socket

-- A listener on port, or nil, error code.
function M.listen(st, port, backlog)
  err_out[0] = 0
  local s = C.tl_listen(st, port, backlog, err_out)
  if s == nil then return nil, err_out[0] end
  return s
end

M.accept = C.tl_accept            -- (listener) -> socket or NULL
M.connect = C.tl_connect_sock     -- (s, addr, port, sport, now) -> 0 or error
M.connect6 = C.tl_connect_sock6   -- (s, 16-byte address string, port, sport, now) -> 0 or error
M.close = C.tl_close              -- (s, now)
M.abort = C.tl_abort              -- (s, now)
M.shutdown = C.tl_shutdown        -- (s, now) -> 0 or error
M.shutdown_read = C.tl_shutdown_read
M.setopt = C.tl_setopt            -- (s, opt, value) -> 0 or error
function M.getopt(s, opt) return tonumber(C.tl_getopt(s, opt)) end
M.error = C.tl_sock_error         -- (s) -> 0 or the error that ended it
M.state = C.tl_sock_state         -- (s) -> enum tl_tcp_state
function M.state_name(state) return ffi.string(C.tl_state_name(state)) end
function M.snd_queued(s) return tonumber(C.tl_sock_snd_queued(s)) end
function M.snd_acked(s) return tonumber(C.tl_sock_snd_acked(s)) end

-- The raw user word; tcplua.ids owns what it means.
function M.user(s) return tonumber(C.tl_sock_user(s)) end
M.set_user = C.tl_sock_set_user

-- local address, local port, remote address, remote port (host order).
function M.addrs(s)
  C.tl_sock_addrs(s, addr_out, port_out, addr_out + 1, port_out + 1)
  return addr_out[0], port_out[0], addr_out[1], port_out[1]
end

-- 6, local and remote address (16-byte strings) for a connection over
-- IPv6; 4 otherwise (M.addrs then has its addresses).
local a6_l, a6_r = ffi.new("uint8_t[16]"), ffi.new("uint8_t[16]")
function M.family(s)
  if C.tl_sock_family(s, a6_l, a6_r) ~= 6 then return 4 end
  return 6, ffi.string(a6_l, 16), ffi.string(a6_r, 16)
end

-- The tl_tcp_info of s (valid until the next call), or nil, error code.
function M.info(s)
  local r = tonumber(C.tl_sock_info(s, info_out))
  if r < 0 then return nil, r end
  return info_out
end

-- The next socket event into ev (a tl_event from new_event); false when
-- there is none.
function M.new_event() return ffi.new("tl_event") end
function M.next_event(st, ev) return C.tl_next_event(st, ev) ~= 0 end

-- Iterates the sockets that carry a user word (nil starts).
M.next_user_sock = C.tl_next_user_sock

-- A socket's address as a number, for keying Lua tables by socket.
local uintptr_t = ffi.typeof("uintptr_t")
function M.key(s) return tonumber(ffi.cast(uintptr_t, s)) end

return M
