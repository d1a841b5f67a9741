-- Reading from a connection: the receive patterns on top of tl_recv,
-- tl_readable and tl_find_byte. Bytes are copied out of the core into one
-- grow-only buffer per runtime, and into a Lua string only when they are
-- returned (or when a long line or count must be pulled out to keep the
-- receive window open).
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

local EAGAIN = C.TL_EAGAIN
local errword

-- States in which the peer's FIN has arrived: no more data will come.
local FIN_STATES = {
  [C.TL_CLOSE_WAIT] = true, [C.TL_CLOSING] = true, [C.TL_LAST_ACK] = true,
  [C.TL_TIME_WAIT] = true, [C.TL_CLOSED] = true,
}

-- The runtime's receive buffer, at least n bytes (grows, never shrinks).
function M.buffer(rt, n)
  if rt.bufcap < n then
    local cap = math.max(n, rt.bufcap * 2, 65536)
    rt.buf = ffi.new("uint8_t[?]", cap)
    rt.bufcap = cap
  end
  return rt.buf
end

-- Has the peer finished sending (FIN or error)?
local function ended(s)
  return C.tl_sock_error(s) ~= 0 or FIN_STATES[C.tl_sock_state(s)] == true
end

-- Reads everything still readable, then the reason reading stopped.
local function drain(c)
  local rt, s = c.rt, c.s
  local parts = {}
  while true do
    local n = tonumber(C.tl_readable(s))
    local buf = M.buffer(rt, math.max(n, 1))
    local r = tonumber(C.tl_recv(s, buf, math.max(n, 1), rt.now_us))
    if r > 0 then
      parts[#parts + 1] = ffi.string(buf, r)
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
  local buf = M.buffer(rt, n)
  local got = 0
  while got < n do
    local r = tonumber(C.tl_recv(c.s, buf + got, n - got, rt.now_us))
    if r <= 0 then break end
    got = got + r
  end
  return ffi.string(buf, got)
end

-- While waiting for a line or a byte count, bytes pile up in the core's
-- receive buffer. Once they reach half of it we move them into Lua, or a
-- line longer than the buffer would stall the connection (zero window).
local function spill_limit(s)
  local rcv = tonumber(C.tl_getopt(s, C.TL_OPT_RCVBUF))
  if not rcv or rcv <= 0 then rcv = 65536 end
  return math.max(1, math.floor(rcv / 2))
end

function M.line(c, co, rec, deadline)
  local parts = nil
  while true do
    local s = c.s
    if not s then return nil, "closed", parts and table.concat(parts) or "" end
    local off = tonumber(C.tl_find_byte(s, 10))
    if off >= 0 then
      local line = take(c, off + 1)
      if parts then parts[#parts + 1] = line; line = table.concat(parts) end
      line = line:sub(1, -2)
      if line:byte(-1) == 13 then line = line:sub(1, -2) end
      return line
    end
    if ended(s) then
      local rest, err = drain(c)
      if parts then parts[#parts + 1] = rest; rest = table.concat(parts) end
      return nil, err or "closed", rest
    end
    local n = tonumber(C.tl_readable(s))
    if n >= spill_limit(s) then
      parts = parts or {}
      parts[#parts + 1] = take(c, n)
    elseif M.wait_as(c, "reader", co, rec, deadline) == "timeout" then
      if c.s then
        local rest = drain(c)
        if parts then parts[#parts + 1] = rest; rest = table.concat(parts) end
        return nil, "timeout", rest
      end
      return nil, "timeout", parts and table.concat(parts) or ""
    end
  end
end

function M.count(c, want, co, rec, deadline)
  local parts, have = nil, 0
  while true do
    local s = c.s
    if not s then return nil, "closed", parts and table.concat(parts) or "" end
    local need = want - have
    local n = tonumber(C.tl_readable(s))
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
    elseif M.wait_as(c, "reader", co, rec, deadline) == "timeout" then
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
    local n = tonumber(C.tl_readable(s))
    local cap = math.max(n, 1)
    local buf = M.buffer(rt, cap)
    local r = tonumber(C.tl_recv(s, buf, cap, rt.now_us))
    if r > 0 then
      parts[#parts + 1] = ffi.string(buf, r)
    elseif r == C.TL_ECLOSED then
      return table.concat(parts)
    elseif r ~= EAGAIN then
      return nil, errword(r), table.concat(parts)
    elseif M.wait_as(c, "reader", co, rec, deadline) == "timeout" then
      return nil, "timeout", table.concat(parts)
    end
  end
end


-- socket.lua supplies the error words and the wait primitive.
function M.setup(errword_fn, wait_as_fn)
  errword = errword_fn
  M.wait_as = wait_as_fn
end

return M
