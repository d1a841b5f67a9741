-- Timers of one runtime: a binary min-heap keyed by (deadline, sequence), so
-- timers due at the same microsecond fire in the order they were armed.
-- Each entry remembers its heap index, which makes cancel O(log n) instead
-- of leaving dead entries behind (receive timeouts arm and cancel a timer
-- per wait, so lazy deletion would let the heap grow with traffic).
local floor = math.floor

local Heap = {}
Heap.__index = Heap

local function new() return setmetatable({ n = 0, seq = 0 }, Heap) end

local function less(a, b)
  if a.deadline ~= b.deadline then return a.deadline < b.deadline end
  return a.seq < b.seq
end

function Heap:_up(i)
  local e = self[i]
  while i > 1 do
    local p = floor(i / 2)
    local pe = self[p]
    if not less(e, pe) then break end
    self[i] = pe; pe.idx = i
    i = p
  end
  self[i] = e; e.idx = i
end

function Heap:_down(i)
  local n, e = self.n, self[i]
  while true do
    local c = 2 * i
    if c > n then break end
    if c < n and less(self[c + 1], self[c]) then c = c + 1 end
    local ce = self[c]
    if not less(ce, e) then break end
    self[i] = ce; ce.idx = i
    i = c
  end
  self[i] = e; e.idx = i
end

-- Adds entry e (a table with .deadline); returns it.
function Heap:push(e)
  self.seq = self.seq + 1
  e.seq = self.seq
  local n = self.n + 1
  self.n = n
  self[n] = e
  self:_up(n)
  return e
end

function Heap:remove(e)
  local i = e.idx
  if not i or self[i] ~= e then return false end
  local n = self.n
  local last = self[n]
  self[n] = nil
  self.n = n - 1
  e.idx = nil
  if i < n then
    self[i] = last; last.idx = i
    self:_up(i)
    self:_down(last.idx)
  end
  return true
end

function Heap:peek() return self[1] end

function Heap:pop()
  local top = self[1]
  if top then self:remove(top) end
  return top
end

return { new = new }
