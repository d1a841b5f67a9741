-- Reading from a connection: the receive patterns on top of the core's
-- stream calls (tcplua.c.stream: recv, readable, find_byte). Bytes are
-- copied out of the core into the runtime's read buffer
-- (tcplua.connbase.buffer), and into a Lua string only when they are
-- returned (or when a long line or count must be pulled out to keep the
-- receive window open).
local stream = require "tcplua.c.stream"
local sock = require "tcplua.c.sock"
local base = require "tcplua.connbase"
local cowait = require "tcplua.cowait"

local M = {}

local EAGAIN = stream.EAGAIN
local errword, ended, buffer, wait_as = base.errword, base.peer_done, base.buffer, cowait.wait_as
local tostr = stream.string

-- Reads everything still readable, then the reason reading stopped.
local function drain(c)
  local rt, s = c.rt, c.s
  local parts = {}
  while true do
    local n = stream.readable(s)
    local buf = buffer(rt, math.max(n, 1))
    local r = stream.recv(s, buf, math.max(n, 1), rt.now_us)
    if r > 0 then
      parts[#parts + 1] = tostr(buf, r)
    elseif r == EAGAIN then
      return table.concat(parts), nil
    else
      return table.concat(parts), errword(r)
    end
  end
end

-- Moves n readable bytes into a Lua string.
local function take(c, n)
  local rt = c.rt
  local buf = buffer(rt, n)
  local got = 0
  while got < n do
    local r = stream.recv(c.s, buf + got, n - got, rt.now_us)
    if r <= 0 then break end
    got = got + r
  end
  return tostr(buf, got)
end

-- While waiting for a line or a byte count, bytes pile up in the core's
-- receive buffer. Once they reach half of it we move them into Lua, or a
-- line longer than the buffer would stall the connection (zero window).
local function spill_limit(s)
  local rcv = sock.getopt(s, sock.OPT.rcvbuf)
  if not rcv or rcv <= 0 then rcv = 65536 end
  return math.max(1, math.floor(rcv / 2))
end


local function joined(parts, last)
  if not parts then return last or "" end
  if last then parts[#parts + 1] = last end
  return table.concat(parts)
end

-- The line is too long: the first max bytes of it come back as partial
-- (consumed); the rest of the line stays to be read.
local function too_long(c, parts, have, max)
  local head = take(c, max - have)
  return nil, "line too long", joined(parts, head)
end

function M.line(c, co, rec, deadline)
  local parts, have = nil, 0
  local max = c.max_line or base.MAX_LINE
  while true do
    local s = c.s
    if not s then return nil, "closed", joined(parts) end
    local off = stream.find_byte(s, 10)
    if off >= 0 then
      local len = have + off
      if len > max then
        -- One byte over is fine if it is the CR of a CR LF.
        local cr = false
        if len == max + 1 then
          if off > 0 then
            local b = buffer(c.rt, 1)
            cr = stream.peek(s, off - 1, b, 1) == 1 and b[0] == 13
          else
            cr = parts[#parts]:byte(-1) == 13
          end
        end
        if not cr then return too_long(c, parts, have, max) end
      end
      local line = take(c, off + 1)
      if parts then parts[#parts + 1] = line; line = table.concat(parts) end
      line = line:sub(1, -2)
      if line:byte(-1) == 13 then line = line:sub(1, -2) end
      return line
    end
    local n = stream.readable(s)
    if have + n > max + 1 then return too_long(c, parts, have, max) end
    if ended(s) then
      local rest, err = drain(c)
      return nil, err or "closed", joined(parts, rest)
    end
    if n >= spill_limit(s) then
      parts = parts or {}
      parts[#parts + 1] = take(c, n)
      have = have + n
    elseif wait_as(c, "reader", co, rec, deadline) == "timeout" then
      if c.s then return nil, "timeout", joined(parts, drain(c)) end
      return nil, "timeout", joined(parts)
    end
  end
end

-- peek(n): the first n readable bytes (or whatever is readable, at least
-- one byte, without n), left in place. nil, err, partial (also left in
-- place) when the peer ends first or the wait times out.
function M.peek(c, n, co, rec, deadline)
  local rt = c.rt
  local function look(s, k)
    if k <= 0 then return "" end
    local buf = buffer(rt, k)
    local r = stream.peek(s, 0, buf, k)
    return r > 0 and tostr(buf, r) or ""
  end
  while true do
    local s = c.s
    if not s then return nil, "closed", "" end
    local avail = stream.readable(s)
    if n and avail >= n then return look(s, n) end
    if not n and avail > 0 then return look(s, math.min(avail, 65536)) end
    if ended(s) then
      local e = sock.error(s)
      return nil, e ~= 0 and errword(e) or "closed", look(s, avail)
    end
    if wait_as(c, "reader", co, rec, deadline) == "timeout" then
      return nil, "timeout", c.s and look(c.s, stream.readable(c.s)) or ""
    end
  end
end

-- The receiveuntil iterator's read (OpenResty's semantics). st: the
-- iterator's state { pat, incl, done }. Without size: everything up to the
-- pattern (consumed, not returned unless incl). With size: chunks of at
-- most size bytes, the last one ending at the pattern, then one call
-- returning nil, nil, after which the iterator starts afresh.
-- How many of the n readable bytes cannot begin a match of pat: all but
-- the longest tail that is a start of pat.
local function safe_len(c, s, n, pat)
  local m = math.min(n, #pat - 1)
  if m <= 0 then return n end
  local buf = buffer(c.rt, m)
  local tail = tostr(buf, stream.peek(s, n - m, buf, m))
  for k = m, 1, -1 do
    if tail:sub(-k) == pat:sub(1, k) then return n - k end
  end
  return n
end

function M.until_read(c, st, size, co, rec, deadline)
  if size and st.done then
    st.done = false
    return nil, nil
  end
  local pat, plen = st.pat, #st.pat
  local parts, from = nil, 0
  while true do
    local s = c.s
    if not s then return nil, "closed", joined(parts) end
    local off = stream.find(s, pat, plen, from)
    if off >= 0 then
      if size and off > size then return take(c, size) end
      local data = take(c, off)
      take(c, plen)
      if st.incl then data = data .. pat end
      data = joined(parts, data)
      if size then
        if data == "" then return nil, nil end
        st.done = true
      end
      return data
    end
    local n = stream.readable(s)
    local safe = safe_len(c, s, n, pat)
    if size and safe >= size then return take(c, size) end
    if ended(s) then
      local rest, err = drain(c)
      return nil, err or "closed", joined(parts, rest)
    end
    if safe > 0 and n >= spill_limit(s) then
      local chunk = take(c, size and math.min(safe, size) or safe)
      if size then return chunk end
      parts = parts or {}
      parts[#parts + 1] = chunk
      from = 0
    else
      from = math.max(0, safe)
      if wait_as(c, "reader", co, rec, deadline) == "timeout" then
        -- What cannot be part of the pattern is returned (and consumed);
        -- a possible start of it stays for the next call.
        if c.s and safe > 0 and not size then return nil, "timeout", joined(parts, take(c, safe)) end
        return nil, "timeout", joined(parts)
      end
    end
  end
end

function M.count(c, want, co, rec, deadline)
  local parts, have = nil, 0
  while true do
    local s = c.s
    if not s then return nil, "closed", parts and table.concat(parts) or "" end
    local need = want - have
    local n = stream.readable(s)
    if n >= need then
      local data = take(c, need)
      if parts then parts[#parts + 1] = data; data = table.concat(parts) end
      return data
    end
    if ended(s) then
      local rest, err = drain(c)
      if parts then parts[#parts + 1] = rest; rest = table.concat(parts) end
      return nil, err or "closed", rest
    end
    if n > 0 and n >= spill_limit(s) then
      parts = parts or {}
      parts[#parts + 1] = take(c, n)
      have = have + n
    elseif wait_as(c, "reader", co, rec, deadline) == "timeout" then
      local rest = c.s and drain(c) or ""
      if parts then parts[#parts + 1] = rest; rest = table.concat(parts) end
      return nil, "timeout", rest
    end
  end
end

function M.all(c, co, rec, deadline)
  local rt = c.rt
  local parts = {}
  while true do
    local s = c.s
    if not s then return nil, "closed", table.concat(parts) end
    local n = stream.readable(s)
    local cap = math.max(n, 1)
    local buf = buffer(rt, cap)
    local r = stream.recv(s, buf, cap, rt.now_us)
    if r > 0 then
      parts[#parts + 1] = tostr(buf, r)
    elseif r == stream.ECLOSED then
      return table.concat(parts)
    elseif r ~= EAGAIN then
      return nil, errword(r), table.concat(parts)
    elseif wait_as(c, "reader", co, rec, deadline) == "timeout" then
      return nil, "timeout", table.concat(parts)
    end
  end
end

return M
