-- A toxiproxy proxy: a listener on the stack's address, a connection to
-- the upstream for every client, and the toxic chains of both directions
-- (link.lua carries the bytes).
local hosts = require "tcplua.hosts"
local link = require "tcplua.toxiproxy.link"

local M = {}

local Proxy = {}
Proxy.__index = Proxy
M.Proxy = Proxy

local LOCAL = { [""] = true, ["0.0.0.0"] = true, ["::"] = true, ["*"] = true, localhost = true }

-- "host:port" -> host, port (a number), or nil and Go's wording.
function M.split_hostport(s)
  local host, port = s:match("^(.*):(%d+)$")
  if not host then return nil, ("address %s: missing port in address"):format(s) end
  port = tonumber(port)
  if port > 65535 then return nil, ("address %s: invalid port"):format(s) end
  return host:gsub("^%[(.*)%]$", "%1"), port
end

-- The listen field as this proxy can honour it: any host naming the stack
-- (its address, 0.0.0.0, [::], localhost, 127.x: the stack has one
-- address) and a port (0: one is picked). Returns host, port or nil, err.
function M.parse_listen(tcp, s)
  if s == "" then s = ":0" end   -- as Go's net.Listen("tcp", "")
  local host, port = M.split_hostport(s)
  if not host then return nil, "listen tcp: " .. port end
  local own = tcp.config().addr
  if LOCAL[host] or host:match("^127%.") or host == own then return own, port end
  local addr = hosts.resolve(host)
  if not addr then return nil, ("listen tcp: lookup %s: no such host"):format(host) end
  local core = require "tcplua.core"
  if core.ipstr(addr) ~= own then
    return nil, ("listen tcp %s:%d: bind: cannot assign requested address"):format(core.ipstr(addr), port)
  end
  return own, port
end

-- host, port of the upstream field ("localhost" and 127.x are the host
-- side of the TUN, since the stack itself has no loopback).
function M.parse_upstream(tcp, s)
  local host, port = M.split_hostport(s)
  if not host then return nil, port end
  if host == "" or host == "localhost" or host:match("^127%.") then host = tcp.config().host end
  return host, port
end

function M.new(server, name, listen, upstream)
  return setmetatable({
    server = server, tcp = server.tcp, rng = server.rng, report = server.report,
    name = name, listen = listen, upstream = upstream, enabled = false,
    chain = { upstream = {}, downstream = {} }, pairs = {},
  }, Proxy)
end

-- Copies bytes between client and a fresh upstream connection until one
-- of them ends or a toxic ends them.
local function serve(self, client)
  local host, port = M.parse_upstream(self.tcp, self.upstream)
  local up = host and self.tcp.connect(host, port, { timeout = 10000 })
  if not up or not self.enabled then
    client:close()
    if up then up:close() end
    return
  end
  local pair = link.new(self, client, up)
  self.pairs[pair] = true
  pair:run()
end

-- Opens the listener. Returns true, or nil and the error toxiproxy gives
-- (status 500).
function Proxy:start()
  if self.enabled then return true end
  local host, port = M.parse_listen(self.tcp, self.listen)
  if not host then return nil, port end
  local handler = function(client) serve(self, client) end
  local srv, err
  if port == 0 then
    for _ = 1, 1000 do
      port = self.server:next_port()
      srv, err = self.tcp.listen(port, handler)
      if srv or err ~= "in use" then break end
    end
  else
    srv, err = self.tcp.listen(port, handler)
  end
  if not srv then
    if err == "in use" then err = "bind: address already in use" end
    return nil, ("listen tcp %s:%d: %s"):format(host, port, err)
  end
  self.srv = srv
  self.listen = ("%s:%d"):format(host, port)
  self.enabled = true
  return true
end

-- Closes the listener and every connection through the proxy.
function Proxy:stop()
  if not self.enabled then return end
  self.enabled = false
  if self.srv then self.srv:close(); self.srv = nil end
  for pair in pairs(self.pairs) do pair:teardown("close") end
end

-- Whether listen/upstream would change (toxiproxy's Differs).
function Proxy:differs(listen, upstream)
  local host, port = M.parse_listen(self.tcp, listen)
  if not host then return nil, port end
  local cur_host, cur_port = self.listen:match("^(.*):(%d+)$")
  local same_listen = host == cur_host and (port == tonumber(cur_port))
  return not same_listen or upstream ~= self.upstream
end

-- PATCH/POST /proxies/{name}: input has listen, upstream, enabled (the
-- current values where the body left them out). Returns true or nil, err.
function Proxy:update(input)
  local differs, err = self:differs(input.listen, input.upstream)
  if differs == nil then return nil, err end
  if differs then
    self:stop()
    self.listen, self.upstream = input.listen, input.upstream
  end
  if input.enabled ~= self.enabled then
    if input.enabled then return self:start() end
    self:stop()
  end
  return true
end

local function each_link(self, dir, fn)
  for pair in pairs(self.pairs) do fn(pair.links[dir]) end
end

function Proxy:find_toxic(name)
  for _, dir in ipairs({ "upstream", "downstream" }) do
    for i, t in ipairs(self.chain[dir]) do
      if t.name == name then return t, i end
    end
  end
end

function Proxy:add_toxic(t)
  local chain = self.chain[t.direction]
  chain[#chain + 1] = t
  each_link(self, t.direction, function(l) l:attach(t) end)
  self.server:toxics_changed(self)
end

-- The toxic's attributes or toxicity changed: it starts afresh on every
-- connection (its waits are cut short, its coin drawn again; limit_data
-- keeps its count).
function Proxy:update_toxic(t)
  t.gen = t.gen + 1
  each_link(self, t.direction, function(l)
    l:detach(t, false)
    l:attach(t)
  end)
  self.server:toxics_changed(self)
end

function Proxy:remove_toxic(t)
  local _, i = self:find_toxic(t.name)
  table.remove(self.chain[t.direction], i)
  t.removed = true
  each_link(self, t.direction, function(l) l:detach(t, true) end)
  self.server:toxics_changed(self)
end

function Proxy:reset_toxics()
  for _, dir in ipairs({ "upstream", "downstream" }) do
    while #self.chain[dir] > 0 do self:remove_toxic(self.chain[dir][1]) end
  end
end

-- Every toxic, upstream chain first (toxiproxy's order).
function Proxy:toxic_list()
  local out = {}
  for _, dir in ipairs({ "upstream", "downstream" }) do
    for _, t in ipairs(self.chain[dir]) do out[#out + 1] = t end
  end
  return out
end

return M
