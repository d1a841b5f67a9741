-- Zero-copy sends of large Lua strings (tl_send_ref).
--
-- A Lua string never moves and never changes, so the stack can send
-- straight from it: the core's send ring references the string's bytes
-- instead of copying them, and with TSO a 64 KB super-segment goes to the
-- TUN as a scatter list of the script's strings (one copy, the kernel's,
-- instead of two). The string must then stay alive until the peer has
-- acknowledged its bytes: each lent string is anchored here, per socket,
-- with the socket's tl_sock_snd_queued after the send, and let go once
-- tl_sock_snd_acked reaches that mark (checked on every send and every
-- event of the socket). tl_close copies what is still unacknowledged into
-- the stack, so closing (or aborting) a socket lets go of all of it.
--
-- Small strings are still copied: below MIN a copy costs less than a
-- piece in the ring and an anchor here.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

M.MIN = 4096

local uptr = ffi.typeof("uintptr_t")

local function key_of(s) return tonumber(ffi.cast(uptr, s)) end

-- Lets go of the anchors of socket s whose bytes are all acknowledged, or
-- of all of them once its send buffer holds nothing: a reset or timed-out
-- connection dropped what it held (core/tcp.c tcp_conn_closed), and the
-- script may close it much later.
local function settle(rt, key, q, s)
  local acked = tonumber(C.tl_sock_snd_acked(s))
  if tonumber(C.tl_sock_snd_queued(s)) == acked then acked = math.huge end
  local h = q.head
  while h <= q.tail and q[2 * h] <= acked do
    q[2 * h - 1], q[2 * h] = nil, nil
    h = h + 1
  end
  q.head = h
  if h > q.tail then
    rt.lent[key] = nil
    rt.lent_n = rt.lent_n - 1
  end
end

-- Sends len bytes at ptr (inside string str) on socket s, lending them
-- when there are enough: returns what tl_send returns.
function M.send(rt, s, str, ptr, len, now)
  if len < M.MIN then return C.tl_send(s, ptr, len, now) end
  local r = C.tl_send_ref(s, ptr, len, now)
  if r <= 0 then return r end
  local lent = rt.lent
  if not lent then
    lent = {}
    rt.lent, rt.lent_n = lent, 0
  end
  local key = key_of(s)
  local q = lent[key]
  local mark = tonumber(C.tl_sock_snd_queued(s))
  if not q then
    q = { head = 1, tail = 0 }
    lent[key] = q
    rt.lent_n = rt.lent_n + 1
  elseif q.tail >= q.head and q[2 * q.tail - 1] == str then
    q[2 * q.tail] = mark -- the rest of the same string: one anchor
    return r
  end
  local t = q.tail + 1
  q[2 * t - 1], q[2 * t] = str, mark
  q.tail = t
  if q.head < t then settle(rt, key, q, s) end
  return r
end

-- An event for socket s: the peer may have acknowledged lent bytes.
function M.event(rt, s)
  local key = key_of(s)
  local q = rt.lent[key]
  if q then settle(rt, key, q, s) end
end

local function forget(rt, s)
  local lent = rt.lent
  if not lent then return end
  local key = key_of(s)
  if lent[key] then
    lent[key] = nil
    rt.lent_n = rt.lent_n - 1
  end
end

-- tl_close / tl_abort, then let go of everything lent on s (tl_close has
-- copied what the stack still needs; tl_abort dropped it).
function M.close(rt, s, now)
  C.tl_close(s, now)
  forget(rt, s)
end

function M.abort(rt, s, now)
  C.tl_abort(s, now)
  forget(rt, s)
end

-- Strings lent and not yet let go of, on all sockets (for specs).
function M.count(rt)
  local n = 0
  for _, q in pairs(rt.lent or {}) do n = n + q.tail - q.head + 1 end
  return n
end

return M
