-- The C family of a connection's byte streams (core/include/api.h): reading,
-- peeking, searching the receive buffer, and sending (copied, lent or
-- urgent). The only module that calls these functions. Lengths and
-- results are Lua numbers.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = { EAGAIN = C.TL_EAGAIN, ECLOSED = C.TL_ECLOSED, FIND_MAX = C.TL_FIND_MAX }

local u8ptr = ffi.typeof("const uint8_t *")

function M.readable(s) return tonumber(C.tl_readable(s)) end
function M.recv(s, buf, n, now) return tonumber(C.tl_recv(s, buf, n, now)) end
function M.peek(s, off, buf, n) return tonumber(C.tl_peek(s, off, buf, n)) end
function M.find(s, pat, plen, from) return tonumber(C.tl_find(s, pat, plen, from)) end
function M.find_byte(s, b) return tonumber(C.tl_find_byte(s, b)) end

-- The bytes of a Lua string as a pointer (valid while str lives).
function M.ptr(str) return ffi.cast(u8ptr, str) end

function M.send(s, ptr, len, now) return tonumber(C.tl_send(s, ptr, len, now)) end
function M.send_ref(s, ptr, len, now) return tonumber(C.tl_send_ref(s, ptr, len, now)) end
function M.send_urgent(s, ptr, len, now) return tonumber(C.tl_send_urgent(s, ptr, len, now)) end

-- A grow-only byte buffer: buffer(n) returns one of at least n bytes.
function M.bytes(n) return ffi.new("uint8_t[?]", n) end
M.string = ffi.string

return M
