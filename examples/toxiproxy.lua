-- A toxiproxy-compatible server: toxiproxy's HTTP API (version 2) on the
-- stack's address, proxies listening on the stack's address and relaying
-- to upstreams on the host side of the TUN, with toxiproxy's toxics and
-- tcplua's own ("tcplua": any tcplua.fault policy). See docs/toxiproxy.md.
--   sudo tcplua examples/toxiproxy.lua [--allow-lua] [--config FILE] [[HOST:]PORT]
--   then: toxiproxy-cli -h 10.77.0.2:8474 create -l 10.77.0.2:6380 -u 10.77.0.1:6379 redis
-- PORT defaults to 8474 (toxiproxy's). --config FILE populates proxies at
-- start from a JSON file as toxiproxy-server -config does. --allow-lua lets
-- the "tcplua" toxic run Lua source sent over the API (it runs as root).
local tcp = require "tcplua"
local toxiproxy = require "tcplua.toxiproxy"

local port, host, config, allow_lua = 8474, nil, nil, false
local args = { ... }
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--allow-lua" then
    allow_lua = true
  elseif a == "--config" then
    i = i + 1
    config = assert(args[i], "--config needs a file")
  else
    local h, p = a:match("^(.*):(%d+)$")
    port = tonumber(p or a)
    host = h ~= "" and h or nil
    if not port then
      error("toxiproxy.lua: bad argument " .. a .. " (expected [HOST:]PORT, --config FILE or --allow-lua)")
    end
  end
  i = i + 1
end

local server = toxiproxy.new(tcp, { allow_lua = allow_lua })
if config then
  local f = assert(io.open(config, "rb"))
  local body = f:read("*a")
  f:close()
  local status, answer = server:handle({ method = "POST", path = "/populate", headers = {}, body = body })
  if status ~= 201 then error("toxiproxy.lua: --config " .. config .. ": " .. answer) end
end
assert(server:listen(port, host))

local cfg = tcp.config()
if not cfg.quiet then
  print(("toxiproxy API on %s:%d (toxiproxy %s semantics)"):format(cfg.addr, port, toxiproxy.VERSION))
end
