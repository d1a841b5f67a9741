-- A lossy path between a kernel peer and tcplua, for the loss interop ring
-- (spec/tun/tcp_loss_interop_spec.lua) and scripts/loss-check.
--
--   B (kernel peer, 10.66.0.2) --veth lnB|lnA-- A (router: nftables) --tcplua0-- tcplua (10.77.0.2)
--
-- tcplua runs in namespace A (a helpers.netns namespace); this helper adds
-- namespace B, a veth pair into it and routes, and makes A forward. Every
-- impairment is an nftables rule in A's prerouting hook, on the packet's
-- way *into* A, so it is a loss the sender cannot see: a rule on the
-- sending kernel's own output or postrouting hook is no loss at all (the
-- drop is reported to the sending socket as an error, and Linux TCP sends
-- the segment again at once without counting a retransmission).
--
--   local lossnet = require "helpers.lossnet"
--   local net = lossnet.new(ns)          -- ns: helpers.netns namespace A
--   finally(function() net:delete() end) -- (interop specs: before ns:delete())
--   net:impair({ lossnet.drop_nth("from_stack", 200) })
--   local out, rc = net:peer("nc -d 10.77.0.2 19 > out")
--   net:counters()   --> { drop = 1 }    (packets each rule acted on)
--   net:nstat()      --> { TcpRetransSegs = 12, TcpExtTCPTimeouts = 0, ... } (B's kernel)
--
-- Directions name where the data goes: "to_stack" (kernel B -> tcplua, rules
-- match on iifname lnA) and "from_stack" (tcplua -> kernel B, iifname tcplua0).
-- Only data packets are touched (IPv4 total length over 100 bytes: no SYN,
-- pure ACK or SACK-only segment is that long), so a drop is a data loss and
-- never a lost handshake.
local netns = require "helpers.netns"

local M = {}

M.PEER = "10.66.0.2"     -- the kernel peer in B
M.ROUTER = "10.66.0.1"   -- A's end of the veth
M.STACK = "10.77.0.2"

local q = netns.quote
local CLEAN_ENV = "env -u LD_PRELOAD -u TCPLUA_LIB "

local IIF = { to_stack = "lnA", from_stack = "tcplua0" }
-- Where a duplicate goes: the next hop and device of the original.
local DUP = { to_stack = { "10.77.0.2", "tcplua0" }, from_stack = { "10.66.0.2", "lnA" } }
local DATA = "ip protocol tcp ip length > 100"

local function iif(dir)
  return assert(IIF[dir], "direction must be to_stack or from_stack, not " .. tostring(dir))
end

-- Probability as nftables' numgen comparison: pct in percent, resolution
-- 0.001 %.
local function chance(pct)
  return ("numgen random mod 100000 < %d"):format(math.floor(pct * 1000 + 0.5))
end

-- Rules (strings) for net:impair(). `name` labels the rule's counter.
function M.drop_random(dir, pct, name)
  return ('iifname "%s" %s %s counter drop comment "%s"'):format(iif(dir), DATA, chance(pct), name or "drop")
end

-- Drops exactly the n-th data packet (from 1) to pass in that direction
-- after the rule was installed: numgen inc counts only packets that got
-- past the matches before it. With offloads on a "packet" may be a 64 KB
-- super-segment.
function M.drop_nth(dir, n, name)
  return ('iifname "%s" %s numgen inc mod 1000000000 == %d counter drop comment "%s"'):format(iif(dir), DATA,
    n - 1, name or "drop")
end

function M.duplicate(dir, pct, name)
  local via = DUP[dir]
  iif(dir)
  return ('iifname "%s" %s %s counter dup to %s device "%s" comment "%s"'):format(iif(dir), DATA, chance(pct),
    via[1], via[2], name or "dup")
end

local Net = {}
Net.__index = Net

local function sh_ok(cmd)
  local out, rc = netns.sh(cmd)
  assert(rc == 0, cmd .. ": " .. out)
  return out
end

-- Builds B and the veth into the running namespace `ns` (A). The TUN need
-- not exist yet: A's routes to 10.77.0.0/24 appear with it.
function M.new(ns)
  local rnd = io.open("/dev/urandom", "rb")
  local bytes = rnd:read(4)
  rnd:close()
  local b = string.format("tlt-%s%02x%02x%02x%02xb", netns.tag, bytes:byte(1, 4))
  local self = setmetatable({ a = ns.name, b = b, tmp = ns.tmp }, Net)
  sh_ok("ip netns add " .. b .. " && ip -n " .. b .. " link set lo up")
  self.created = true
  sh_ok(("ip link add lnA netns %s type veth peer name lnB netns %s"):format(self.a, b))
  sh_ok(("ip -n %s addr add %s/24 dev lnA && ip -n %s link set lnA up"):format(self.a, M.ROUTER, self.a))
  sh_ok(("ip -n %s addr add %s/24 dev lnB && ip -n %s link set lnB up"):format(b, M.PEER, b))
  sh_ok(("ip -n %s route add 10.77.0.0/24 via %s"):format(b, M.ROUTER))
  sh_ok(("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 "
    .. "net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lnA.rp_filter=0"):format(self.a))
  return self
end

-- Offloads on the veth ends ("on" or "off"): with them off every packet a
-- rule sees is one MTU-sized segment; with them on, a TSO super-segment.
function Net:offloads(state)
  for _, p in ipairs({ { self.a, "lnA" }, { self.b, "lnB" } }) do
    netns.sh(("ip netns exec %s ethtool -K %s tso %s gso %s gro %s tx %s rx %s sg %s"):format(p[1], p[2],
      state, state, state, state, state, state))
  end
end

-- Replaces A's impairment with `rules` (strings from drop_random,
-- drop_nth, duplicate, or raw nftables rule text). {} clears it.
function Net:impair(rules)
  local lines = { "table ip lossnet {", "  chain pre {", "    type filter hook prerouting priority 0;" }
  for _, r in ipairs(rules) do lines[#lines + 1] = "    " .. r end
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  local file = self.tmp .. "/lossnet.nft"
  local fh = assert(io.open(file, "w"))
  fh:write(table.concat(lines, "\n"), "\n")
  fh:close()
  -- Deleting the table first resets the numgen counters and rule counters.
  netns.sh(("ip netns exec %s nft delete table ip lossnet"):format(self.a))
  sh_ok((CLEAN_ENV .. "ip netns exec %s nft -f %s"):format(self.a, q(file)))
end

-- Packets each rule acted on, by its comment.
function Net:counters()
  local out = netns.sh((CLEAN_ENV .. "ip netns exec %s nft list table ip lossnet"):format(self.a))
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local n, name = line:match("counter packets (%d+) bytes %d+.-comment \"([^\"]+)\"")
    if n then t[name] = (t[name] or 0) + tonumber(n) end
  end
  return t
end

-- Runs a shell command in B (cwd: the namespace's temp dir): output, rc.
function Net:peer(cmd)
  return netns.sh(CLEAN_ENV .. "ip netns exec " .. self.b .. " sh -c " .. q("cd " .. q(self.tmp) .. " && " .. cmd))
end

-- B's kernel TCP counters, absolute (`nstat -asz`: no history file is
-- read or written, so nothing is shared with other runs).
function Net:nstat()
  local out = netns.sh(CLEAN_ENV .. "ip netns exec " .. self.b .. " nstat -asz")
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local name, v = line:match("^(%w+)%s+(%d+)")
    if name then t[name] = tonumber(v) end
  end
  return t
end

-- b - a for every counter of two nstat() tables.
function M.delta(a, b)
  local d = {}
  for k, v in pairs(b) do d[k] = v - (a[k] or 0) end
  return d
end

-- The kernel counters that say how a kernel sender recovered, as one line.
function M.kernel_digest(d)
  local keys = { "TcpRetransSegs", "TcpExtTCPTimeouts", "TcpExtTCPLossProbes", "TcpExtTCPLossProbeRecovery",
    "TcpExtTCPFastRetrans", "TcpExtTCPSackRecovery", "TcpExtTCPSACKReorder", "TcpExtTCPDSACKRecv",
    "TcpExtTCPSpuriousRTOs", "TcpExtTCPDSACKOldSent", "TcpExtTCPOFOQueue", "TcpExtTCPSackRecoveryFail" }
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(d[k] or 0) end
  return table.concat(parts, " ")
end

-- Always safe: removes B (its processes first). A is the caller's.
function Net:delete()
  if not self.created then return end
  local pids = netns.sh("ip netns pids " .. self.b):gsub("%s+", " ")
  if pids:match("%d") then netns.sh("kill -KILL " .. pids) end
  netns.sh("ip netns del " .. self.b)
  self.created = false
end

return M
