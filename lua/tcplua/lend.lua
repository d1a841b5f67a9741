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
--
-- State: rt.lend = { q = { [socket key] = anchors }, n = sockets with
-- anchors }.
local sock = require "tcplua.c.sock"
local stream = require "tcplua.c.stream"

local M = {}

M.MIN = 4096

local key_of = sock.key

function M.init(rt) rt.lend = { q = {}, n = 0 } end

-- Lets go of the anchors of socket s whose bytes are all acknowledged, or
-- of all of them once its send buffer holds nothing: a reset or timed-out
-- connection dropped what it held (core/tcp/tcp.c tcp_conn_closed), and the
-- script may close it much later.
local function settle(rt, key, q, s)
  local acked = sock.snd_acked(s)
  if sock.snd_queued(s) == acked then acked = math.huge end
  local h = q.head
  while h <= q.tail and q[2 * h] <= acked do
    q[2 * h - 1], q[2 * h] = nil, nil
    h = h + 1
  end
  q.head = h
  if h > q.tail then
    local l = rt.lend
    l.q[key] = nil
    l.n = l.n - 1
  end
end

-- Sends string str from byte off on socket s, for both connection styles:
-- urgent data is copied (tl_send_urgent), other bytes are lent when there
-- are enough, else copied. Returns what tl_send returns.
function M.send(rt, s, str, off, urgent, now)
  local ptr, len = stream.ptr(str) + off, #str - off
  if urgent then return stream.send_urgent(s, ptr, len, now) end
  if len < M.MIN then return stream.send(s, ptr, len, now) end
  local r = stream.send_ref(s, ptr, len, now)
  if r <= 0 then return r end
  local l = rt.lend
  local key = key_of(s)
  local q = l.q[key]
  local mark = sock.snd_queued(s)
  if not q then
    q = { head = 1, tail = 0 }
    l.q[key] = q
    l.n = l.n + 1
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
  local l = rt.lend
  if l.n == 0 then return end
  local key = key_of(s)
  local q = l.q[key]
  if q then settle(rt, key, q, s) end
end

local function forget(rt, s)
  local l = rt.lend
  local key = key_of(s)
  if l.q[key] then
    l.q[key] = nil
    l.n = l.n - 1
  end
end

-- tl_close / tl_abort, then let go of everything lent on s (tl_close has
-- copied what the stack still needs; tl_abort dropped it).
function M.close(rt, s, now)
  sock.close(s, now)
  forget(rt, s)
end

function M.abort(rt, s, now)
  sock.abort(s, now)
  forget(rt, s)
end

-- Strings lent and not yet let go of, on all sockets (for specs).
function M.count(rt)
  local n = 0
  for _, q in pairs(rt.lend.q) do n = n + q.tail - q.head + 1 end
  return n
end

-- Sockets holding lent strings (for specs).
function M.sockets(rt) return rt.lend.n end

return M
