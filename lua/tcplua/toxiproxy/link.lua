-- One connection through a proxy: the client's connection, the upstream
-- connection, and a link for each direction ("upstream": client to
-- upstream, "downstream": back). A link is a reader thread that reads its
-- source into a bounded queue, and a writer thread that takes each chunk
-- through the proxy's toxics of that direction, read afresh for every
-- chunk so toxics added, changed or removed act on open connections, and
-- sends it on. A FIN is passed on as a FIN (half-close, where toxiproxy
-- closes both ways); a reset as a reset; toxics end the pair with
-- teardown("close") or teardown("reset").
local signal = require "tcplua.toxiproxy.signal"

local M = {}

local QUEUE_MAX = 1024 * 1024   -- bytes read ahead of the toxics per link
local READ = 65536

local Link = {}
Link.__index = Link

function Link:now() return self.tcp.now() end

-- A piece of chunk holding data: the same read time, and the toxics that
-- have already seen chunk.
function Link:piece(chunk, data)
  local done = {}
  for k in pairs(chunk.done) do done[k] = true end
  return { data = data, t = chunk.t, done = done }
end

-- Waits until time t (ms). Returns true then; false early when the pair
-- ends, or when toxic (if given) is changed or removed meanwhile.
function Link:sleep_until(t, toxic)
  local gen = toxic and toxic.gen
  while true do
    if self.pair.closed then return false end
    if toxic and (toxic.gen ~= gen or toxic.removed) then return false end
    local left = t - self:now()
    if left <= 0 then return true end
    self.change:wait(left)
  end
end

-- The first toxic of this direction's chain that chunk has not been
-- through yet.
local function next_toxic(self, chunk)
  for _, t in ipairs(self.proxy.chain[self.dir]) do
    if not chunk.done[t] then return t end
  end
end

function Link:deliver(chunk)
  local pair = self.pair
  if pair.closed then return end
  if chunk.eof then
    self.dst:shutdown("send")
    self.finished = true
    if pair.links.upstream.finished and pair.links.downstream.finished then pair:teardown("close") end
    return
  end
  local ok, err = self.dst:send(chunk.data)
  if not ok then pair:teardown(err == "reset" and "reset" or "close") end
end

-- Takes chunk through the rest of the chain, then to the destination.
function Link:run(chunk)
  while not self.pair.closed do
    local t = next_toxic(self, chunk)
    if not t then return self:deliver(chunk) end
    chunk.done[t] = true
    local st = self.state[t]
    if st and st.active and t.impl.pipe then
      chunk = t.impl.pipe(self, st, t, chunk)
      if not chunk then return end
    end
  end
end

-- toxic takes effect on this link: its per-connection state and its coin
-- (toxicity: the toxic acts on this connection with that probability,
-- drawn again when the toxic is updated).
function Link:attach(toxic)
  local st = self.state[toxic]
  if not st then
    st = {}
    self.state[toxic] = st
  end
  st.active = toxic.toxicity >= 1 or self.rng:unit() < toxic.toxicity
  if toxic.impl.attach then toxic.impl.attach(self, st, toxic) end
  self.change:notify()
end

-- removed: the toxic is gone (else it is being updated).
function Link:detach(toxic, removed)
  local st = self.state[toxic]
  if st and toxic.impl.detach then toxic.impl.detach(self, st, toxic, removed) end
  if removed then self.state[toxic] = nil end
  self.change:notify()
end

local function push(self, chunk)
  self.q_tail = self.q_tail + 1
  self.q[self.q_tail] = chunk
  self.qbytes = self.qbytes + (chunk.data and #chunk.data or 0)
  self.has_data:notify()
end

local function reader(self)
  local pair, tcp = self.pair, self.tcp
  while not pair.closed do
    while self.qbytes >= QUEUE_MAX and not pair.closed do self.has_room:wait() end
    local data, err = self.src:receiveany(READ)
    if pair.closed then return end
    if not data then
      if err == "closed" then
        push(self, { eof = true, t = tcp.now(), done = {} })
      else
        pair:teardown(err == "reset" and "reset" or "close")
      end
      return
    end
    push(self, { data = data, t = tcp.now(), done = {} })
  end
end

local function writer(self)
  local pair = self.pair
  while not pair.closed do
    while self.q_head > self.q_tail and not pair.closed do self.has_data:wait() end
    if pair.closed then return end
    local chunk = self.q[self.q_head]
    self.q[self.q_head] = nil
    self.q_head = self.q_head + 1
    self.qbytes = self.qbytes - (chunk.data and #chunk.data or 0)
    self.has_room:notify()
    self:run(chunk)
    if chunk.eof then return end
  end
end

local function new_link(pair, dir, src, dst)
  local tcp = pair.tcp
  return setmetatable({
    pair = pair, proxy = pair.proxy, tcp = tcp, rng = pair.proxy.rng, dir = dir, src = src, dst = dst,
    q = {}, q_head = 1, q_tail = 0, qbytes = 0, state = {},
    has_data = signal.new(tcp), has_room = signal.new(tcp), change = signal.new(tcp),
  }, Link)
end

local Pair = {}
Pair.__index = Pair

function M.new(proxy, client, upstream)
  local self = setmetatable({ proxy = proxy, tcp = proxy.tcp, client = client, up = upstream, threads = {} },
    Pair)
  self.ended = signal.new(self.tcp)
  self.links = {
    upstream = new_link(self, "upstream", client, upstream),
    downstream = new_link(self, "downstream", upstream, client),
  }
  return self
end

-- A thread of the pair: an error is reported and resets the pair.
local function guarded(self, fn, link)
  return function()
    local ok, err = xpcall(fn, debug.traceback, link)
    if not ok then
      self.proxy.report("toxiproxy: proxy " .. self.proxy.name .. ": " .. tostring(err))
      self:teardown("reset")
    end
  end
end

-- Attaches the proxy's toxics and starts the four threads (children of the
-- calling coroutine, the listener's handler), then waits until the pair
-- ends.
function Pair:run()
  for dir, link in pairs(self.links) do
    for _, t in ipairs(self.proxy.chain[dir]) do link:attach(t) end
  end
  for _, link in pairs(self.links) do
    self.threads[#self.threads + 1] = self.tcp.spawn(guarded(self, writer, link))
    self.threads[#self.threads + 1] = self.tcp.spawn(guarded(self, reader, link))
  end
  while not self.closed do self.ended:wait() end
end

-- Ends the pair: its threads are killed, then both connections closed
-- ("close": what was sent still goes, then FIN) or reset ("reset").
function Pair:teardown(mode)
  if self.closed then return end
  self.closed = true
  self.proxy.pairs[self] = nil
  for _, link in pairs(self.links) do
    for t in pairs(link.state) do link:detach(t, false) end
  end
  local me = coroutine.running()
  for _, t in ipairs(self.threads) do
    if t ~= me then self.tcp.kill(t) end
  end
  if mode == "reset" then
    self.client:abort()
    self.up:abort()
  else
    self.client:close()
    self.up:close()
  end
  self.ended:notify()
end

return M
