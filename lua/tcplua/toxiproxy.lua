-- A toxiproxy-compatible proxy server (toxiproxy's HTTP API, version 2),
-- with its proxies on the stack's address and their upstreams on the host
-- side of the TUN. docs/toxiproxy.md says what is covered and how.
--
--   local tcp = require "tcplua"
--   local toxiproxy = require "tcplua.toxiproxy"
--   local server = toxiproxy.new(tcp, { allow_lua = false })
--   assert(server:listen(8474))
--
-- server:handle(req) answers one request table ({ method, path, headers,
-- body }) with status, body, content_type, without a socket (the specs use
-- it). The modules under tcplua.toxiproxy: api (JSON bodies), proxy,
-- link (the byte pump and toxic chains), toxics, extension (the "tcplua"
-- toxic type), http, json, signal.
local api = require "tcplua.toxiproxy.api"
local http = require "tcplua.toxiproxy.http"
local json = require "tcplua.toxiproxy.json"
local proxy_mod = require "tcplua.toxiproxy.proxy"
local extension = require "tcplua.toxiproxy.extension"

local M = { VERSION = "2.12.0" }

local Server = {}
Server.__index = Server

local fail, ok = api.fail, api.ok
local TEXT = "text/plain; charset=utf-8"

-- tcp: require "tcplua" or a sim stack. opts: allow_lua (the "tcplua"
-- toxic may run Lua source given over the API), seed, report(msg).
function M.new(tcp, opts)
  opts = opts or {}
  local fault = require("tcplua.fault")
  local self = setmetatable({
    tcp = tcp, proxies = {}, port_next = 0, allow_lua = opts.allow_lua or false,
    rng = fault.rng(opts.seed or tcp.config().seed or 1, 0x7071),
    report = opts.report or function(msg) io.stderr:write(msg, "\n") end,
  }, Server)
  return self
end

-- An unused port for listen ":0" (tried in turn from 20000).
function Server:next_port()
  self.port_next = self.port_next % 40000 + 1
  return 19999 + self.port_next
end

function Server:toxics_changed(p) extension.changed(self, p) end

local function get_proxy(self, name)
  local p = self.proxies[name]
  if not p then return nil, fail(404, "proxy not found") end
  return p
end

local H = {}

function H.version() return 200, ('{"version": "%s"}\n'):format(M.VERSION), "application/json;charset=utf-8" end

function H.proxy_index(self)
  local all = {}
  for name, p in pairs(self.proxies) do all[name] = api.proxy_json(p) end
  return ok(200, all)
end

function H.proxy_create(self, req)
  local obj, err = json.decode(req.body)
  if obj == nil then return fail(400, "bad request body: " .. err) end
  local input
  input, err = api.proxy_input(obj, { name = "", listen = "", upstream = "", enabled = true })
  if not input then return fail(400, "bad request body: " .. err) end
  if #input.name < 1 then return fail(400, "missing required field: name") end
  if #input.upstream < 1 then return fail(400, "missing required field: upstream") end
  if self.proxies[input.name] then return fail(409, "proxy already exists") end
  local p = proxy_mod.new(self, input.name, input.listen, input.upstream)
  if input.enabled then
    local started, serr = p:start()
    if not started then return fail(500, serr) end
  end
  self.proxies[p.name] = p
  return ok(201, api.proxy_json(p))
end

-- POST /populate: a list of proxies; one that exists with the same listen
-- and upstream is kept as it is, one that differs is replaced.
function H.populate(self, req)
  local list, err = json.decode(req.body)
  if list == nil then return fail(400, "bad request body: " .. err) end
  if type(list) ~= "table" or (next(list) ~= nil and #list == 0) then
    return fail(400, "bad request body: json: cannot unmarshal " .. json.kind(list)
      .. " into Go value of type []struct { toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }")
  end
  local inputs = {}
  for i, obj in ipairs(list) do
    local input
    input, err = api.proxy_input(obj, { name = "", listen = "", upstream = "", enabled = true })
    if not input then return fail(400, "bad request body: " .. err) end
    if #input.name < 1 then return fail(400, ("missing required field: name at proxy %d"):format(i)) end
    if #input.upstream < 1 then return fail(400, ("missing required field: upstream at proxy %d"):format(i)) end
    inputs[i] = input
  end
  local done = json.array()
  local status, msg = 201, nil
  for _, input in ipairs(inputs) do
    local p = self.proxies[input.name]
    local differs, derr = true, nil
    if p then differs, derr = p:differs(input.listen, input.upstream) end
    if differs == nil then status, msg = 500, derr; break end
    if differs then
      if p then p:stop() end
      p = proxy_mod.new(self, input.name, input.listen, input.upstream)
      if input.enabled then
        local started, serr = p:start()
        if not started then status, msg = 500, serr; break end
      end
      self.proxies[p.name] = p
    end
    done[#done + 1] = api.proxy_json(p)
  end
  local body = { proxies = #done > 0 and done or json.null }
  if msg then body.error, body.status = msg, status end
  return ok(status, json.object(body, { "error", "status", "proxies" }))
end

function H.reset(self)
  for _, p in pairs(self.proxies) do
    local started, err = p:start()
    if not started then return fail(500, err) end
    p:reset_toxics()
  end
  return 204, "", nil
end

function H.proxy_show(self, _, name)
  local p, s, b, c = get_proxy(self, name)
  if not p then return s, b, c end
  return ok(200, api.proxy_json(p))
end

function H.proxy_update(self, req, name)
  local p, s, b, c = get_proxy(self, name)
  if not p then return s, b, c end
  local obj, err = json.decode(req.body)
  if obj == nil then return fail(400, "bad request body: " .. err) end
  local input
  input, err = api.proxy_input(obj, { name = p.name, listen = p.listen, upstream = p.upstream, enabled = p.enabled })
  if not input then return fail(400, "bad request body: " .. err) end
  local done, uerr = p:update(input)
  if not done then return fail(500, uerr) end
  return ok(200, api.proxy_json(p))
end

function H.proxy_delete(self, _, name)
  local p, s, b, c = get_proxy(self, name)
  if not p then return s, b, c end
  p:stop()
  self.proxies[name] = nil
  return 204, "", nil
end

function H.toxic_index(self, _, name)
  local p, s, b, c = get_proxy(self, name)
  if not p then return s, b, c end
  local arr = json.array()
  for _, t in ipairs(p:toxic_list()) do arr[#arr + 1] = api.toxic_json(t) end
  return ok(200, arr)
end

function H.toxic_create(self, req, name)
  local p, s, b, c = get_proxy(self, name)
  if not p then return s, b, c end
  local t, status, err = api.new_toxic(p, req.body, self)
  if not t then return fail(status, err) end
  p:add_toxic(t)
  return ok(200, api.toxic_json(t))
end

local function get_toxic(self, pname, tname)
  local p, s, b, c = get_proxy(self, pname)
  if not p then return nil, s, b, c end
  local t = p:find_toxic(tname)
  if not t then return nil, fail(404, "toxic not found") end
  return p, t
end

function H.toxic_show(self, _, pname, tname)
  local p, t, b, c = get_toxic(self, pname, tname)
  if not p then return t, b, c end
  return ok(200, api.toxic_json(t))
end

function H.toxic_update(self, req, pname, tname)
  local p, t, b, c = get_toxic(self, pname, tname)
  if not p then return t, b, c end
  local done, status, err = api.update_toxic(t, req.body)
  if not done then return fail(status, err) end
  p:update_toxic(t)
  return ok(200, api.toxic_json(t))
end

function H.toxic_delete(self, _, pname, tname)
  local p, t, b, c = get_toxic(self, pname, tname)
  if not p then return t, b, c end
  p:remove_toxic(t)
  return 204, "", nil
end

-- path pattern, { method = handler } (PATCH where toxiproxy takes it too).
local ROUTES = {
  { "^/reset$", { POST = H.reset } },
  { "^/proxies$", { GET = H.proxy_index, POST = H.proxy_create } },
  { "^/populate$", { POST = H.populate } },
  { "^/proxies/([^/]+)$", { GET = H.proxy_show, POST = H.proxy_update, PATCH = H.proxy_update,
    DELETE = H.proxy_delete } },
  { "^/proxies/([^/]+)/toxics$", { GET = H.toxic_index, POST = H.toxic_create } },
  { "^/proxies/([^/]+)/toxics/([^/]+)$", { GET = H.toxic_show, POST = H.toxic_update, PATCH = H.toxic_update,
    DELETE = H.toxic_delete } },
  { "^/version$", { GET = H.version } },
}

-- Answers one request: status, body, content type.
function Server:handle(req)
  local ua = req.headers and req.headers["user-agent"] or ""
  if ua:sub(1, 8) == "Mozilla/" then return 403, "User agent not allowed\n", TEXT end
  for _, r in ipairs(ROUTES) do
    local a, b = req.path:match(r[1])
    if a or req.path:match(r[1]) then
      local h = r[2][req.method]
      if not h then return 405, "", nil end
      return h(self, req, a and http.unescape(a), b and http.unescape(b))
    end
  end
  return 404, "404 page not found\n", TEXT
end

-- Serves the API on the stack's port (host: the stack's address or any).
function Server:listen(port, host)
  local handler = function(conn)
    conn:settimeout(60000)
    http.serve_conn(conn, function(req) return self:handle(req) end, self.report)
  end
  if host then return self.tcp.listen(host, port, handler) end
  return self.tcp.listen(port, handler)
end

return M
