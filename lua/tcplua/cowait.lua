-- How a coroutine connection waits (tcplua.socket, tcplua.recv): one
-- coroutine at a time may read and one may write; each waits for its
-- socket's event or the deadline of its timeout. Events are hints: after a
-- wake the call is simply retried.
local M = {}

-- A timeout in ms, or nil for none (nil, false, negative, not a number).
function M.ms_or_nil(v)
  if v == nil or v == false then return nil end
  v = tonumber(v)
  if not v or v < 0 then return nil end
  return v
end

-- The deadline ms from now, in runtime us (nil: forever).
function M.deadline_of(rt, ms)
  if ms == nil or ms < 0 then return nil end
  return rt.now_us + ms * 1000
end

-- Ms left until a deadline (nil = forever).
local function remaining(rt, deadline)
  if not deadline then return nil end
  local left = (deadline - rt.now_us) / 1000
  return left > 0 and left or 0
end

-- Waits as reader/writer ("reader" or "writer" field); returns "event" or
-- "timeout".
function M.wait_as(c, role, co, rec, deadline)
  c[role] = co
  -- tcplua.kill frees the role of a thread killed while it waits here.
  rec.wc, rec.wrole = c, role
  local why = c.rt:wait(co, rec, remaining(c.rt, deadline))
  rec.wc, rec.wrole = nil, nil
  c[role] = nil
  return why
end

-- The running coroutine and its record, taking role on c; or nil, nil,
-- err when c is closed or another coroutine holds the role.
function M.claim(c, role, name)
  local co, rec = c.rt:current(name)
  if not c.s then return nil, nil, "closed" end
  if role == "reader" and c.rd_shut then return nil, nil, "closed" end
  if c[role] and c[role] ~= co then return nil, nil, "busy" end
  return co, rec
end

return M
