-- The gateway topology for specs (spec/tun/gateway_*_spec.lua): three
-- namespaces made by helpers.netns, side a (the client, 10.78.1.2), side b
-- (the server, 10.78.2.2) and g, where tcplua --gateway runs and makes its
-- TUNs in a and b. Traffic between a and b crosses only the gateway. All
-- three are deleted by the spec's finally().
--
--   local gateway = require "helpers.gateway"
--   local gw = gateway.new({ "--loss", "2%" }, "examples/gateway_reset_after.lua", { "100000" })
--   if not gw then return end            -- pending() was called
--   local out, rc = gw.a:run("curl ...")
--   local res = gw:stop()                -- { rc, stdout, stderr, stats }
local netns = require "helpers.netns"

local M = {}

M.A, M.B = "10.78.1.2", "10.78.2.2"
M.GW_A, M.GW_B = "10.78.1.1", "10.78.2.1"
M.quote = netns.quote
M.wait_for = netns.wait_for
M.read_file = netns.read_file
M.sh = netns.sh

local function spec_env(level)
  for l = level + 1, level + 8 do
    local ok, e = pcall(getfenv, l)
    if ok and type(e) == "table" and e.finally then return e end
  end
end

local GW = {}
GW.__index = GW

-- Makes the namespaces (pending() and nil when this machine cannot) and
-- starts the gateway with args, an optional script and its arguments.
function M.new(args, script, script_args)
  local env = spec_env(2)
  assert(env, "helpers.gateway must be called from inside a busted spec")
  local ok, why = netns.available()
  if not ok then
    env.pending(why)
    return nil
  end
  local gw = setmetatable({ cleanups = {} }, GW)
  env.finally(function() gw:delete() end)
  gw.a, gw.b, gw.g = netns.new(), netns.new(), netns.new()
  local all = { "--gateway", "--ns-a", gw.a.name, "--ns-b", gw.b.name, "--stats" }
  for _, x in ipairs(args or {}) do all[#all + 1] = x end
  gw:start(all, script, script_args)
  local up, err = gw:wait_up()
  assert(up, err)
  return gw
end

-- Like NS:start, but the script is optional.
function GW:start(args, script, script_args)
  local g = self.g
  local parts = { netns.quote(netns.bin) }
  for _, a in ipairs(args) do parts[#parts + 1] = netns.quote(a) end
  if script then parts[#parts + 1] = netns.quote(script) end
  for _, a in ipairs(script_args or {}) do parts[#parts + 1] = netns.quote(a) end
  g.out, g.err = g.tmp .. "/stdout", g.tmp .. "/stderr"
  g.rcfile, g.pidfile = g.tmp .. "/rc", g.tmp .. "/pid"
  local cmd = string.format("( env -u TCPLUA_LIB ip netns exec %s %s >%s 2>%s </dev/null & echo $! >%s; "
    .. "wait $!; echo $? >%s ) >/dev/null 2>&1 &",
    g.name, table.concat(parts, " "), netns.quote(g.out), netns.quote(g.err), netns.quote(g.pidfile),
    netns.quote(g.rcfile))
  local _, rc = netns.sh(cmd)
  assert(rc == 0, "cannot start " .. netns.bin)
  g.pid = netns.wait_for(function() return tonumber(netns.read_file(g.pidfile)) end, 5000)
  assert(g.pid, "the gateway's pid never appeared")
end

-- Both TUNs up with their addresses (or the gateway died).
function GW:wait_up(timeout_ms)
  local g = self.g
  local ok = netns.wait_for(function()
    if g:exited() then return "exited" end
    local oa = netns.sh("ip -n " .. self.a.name .. " -4 -o addr show dev tlgw-a up")
    local ob = netns.sh("ip -n " .. self.b.name .. " -4 -o addr show dev tlgw-b up")
    return oa:match("inet ") and ob:match("inet ") and "up"
  end, timeout_ms or 5000)
  if ok == "up" then return true end
  return false, "the gateway did not come up: " .. netns.read_file(g.err) .. netns.read_file(g.out)
end

-- Runs cmd in the background in namespace ns (a or b), bounded by
-- `timeout secs`; output to a file. Returns the file.
function GW:background(ns, cmd, secs)
  local out = ns.tmp .. "/bg" .. tostring(#self.cleanups + 1)
  netns.sh(string.format("ip netns exec %s timeout %d sh -c %s >%s 2>&1 &", ns.name, secs or 30, netns.quote(cmd),
    netns.quote(out)))
  self.cleanups[#self.cleanups + 1] = out
  return out
end

-- Waits until a TCP (or, with udp, UDP) port listens in ns.
function GW:wait_listen(ns, port, udp)
  return netns.wait_for(function()
    local out = netns.sh("ip netns exec " .. ns.name .. " ss -" .. (udp and "u" or "t") .. "lnH")
    return out:match(":" .. port .. "%s") ~= nil
  end, 5000)
end

function GW:stop(timeout_ms) return self.g:stop(timeout_ms) end

function GW:delete()
  for _, ns in ipairs({ self.g, self.a, self.b }) do
    if ns then ns:delete() end
  end
end

return M
