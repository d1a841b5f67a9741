-- tcplua --gateway between two namespaces (docs/gateway.md), checked with
-- the kernel's own tools at both ends: ping and a UDP datagram through it,
-- TTL expiry answered with time exceeded (RFC 1812 5.3.1), a DF datagram
-- over side b's smaller MTU answered with fragmentation needed (RFC
-- 1191), a large non-DF one fragmented, and curl fetching a large file
-- from a kernel HTTP server byte for byte, super-packets forwarded whole.
local gateway = require "helpers.gateway"

local q = gateway.quote

-- A random file of n bytes in ns's temp dir and its sha256.
local function make_file(ns, n)
  local path = ns.tmp .. "/www/big.bin"
  local out, rc = gateway.sh("mkdir -p " .. q(ns.tmp .. "/www") .. " && head -c " .. n .. " /dev/urandom >" .. q(path)
    .. " && sha256sum " .. q(path))
  assert(rc == 0, out)
  return path, out:match("^(%x+)")
end

local function http_server(gw, port)
  gw:background(gw.b, "cd " .. q(gw.b.tmp .. "/www") .. " && exec python3 -m http.server " .. port .. " --bind "
    .. gateway.B, 60)
  assert(gw:wait_listen(gw.b, port), "the HTTP server did not start")
end

describe("gateway: IP forwarding between two namespaces", function()
  it("forwards ping and a UDP datagram both ways, and answers TTL expiry with time exceeded", function()
    local gw = gateway.new({ "--mtu-b", "1280" })
    if not gw then return end
    local out, rc = gw.a:run("ping -c 3 -i 0.2 -W 2 " .. gateway.B)
    assert.are.equal(0, rc, out)
    assert.truthy(out:match("ttl=63"), out) -- one hop: the gateway took one off
    -- The gateway answers pings to its own addresses (RFC 1812 4.3.3.6).
    out, rc = gw.a:run("ping -c 1 -W 2 " .. gateway.GW_A)
    assert.are.equal(0, rc, out)
    -- TTL 1 dies at the gateway, which says so from its side-a address.
    out = gw.a:run("ping -c 1 -t 1 -W 2 " .. gateway.B)
    assert.truthy(out:match("From " .. gateway.GW_A:gsub("%.", "%%.") .. ".*[Tt]ime to live exceeded"), out)
    -- Without DF the gateway fragments it, and the reply comes back (first:
    -- once side a knows the path MTU its kernel fragments by itself).
    out, rc = gw.a:run("ping -c 1 -W 2 -M dont -s 1400 " .. gateway.B)
    assert.are.equal(0, rc, out)
    -- DF over side b's MTU (1280): fragmentation needed, with that MTU.
    out = gw.a:run("ping -c 1 -W 2 -M do -s 1400 " .. gateway.B)
    assert.truthy(out:match("[Ff]rag needed and DF set %(mtu = 1280%)"), out)
    -- A UDP datagram a -> b.
    local got = gw:background(gw.b, "socat -u UDP-RECVFROM:9000,bind=" .. gateway.B .. " -", 10)
    assert(gw:wait_listen(gw.b, 9000, true), "socat did not listen")
    out, rc = gw.a:run("echo hello-through-the-gateway | socat -u - UDP-SENDTO:" .. gateway.B .. ":9000")
    assert.are.equal(0, rc, out)
    assert.truthy(gateway.wait_for(function()
      return gateway.read_file(got):match("hello%-through%-the%-gateway")
    end, 5000), gateway.read_file(got))
    local res = gw:stop()
    assert.are.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.fwd_ttl_exceeded >= 1)
    assert.is_true(res.stats.fwd_frag_needed >= 1)
    assert.is_true(res.stats.fwd_fragmented >= 1)
    assert.is_true(res.stats.fwd_icmp_out >= 2)
  end)

  it("carries a large HTTP download byte for byte, bulk TCP as whole super-packets", function()
    local gw = gateway.new()
    if not gw then return end
    local _, sum = make_file(gw.b, 20 * 1000 * 1000)
    http_server(gw, 8080)
    local dst = gw.a.tmp .. "/got.bin"
    local out, rc = gw.a:run("timeout 60 curl -sS -o " .. q(dst) .. " http://" .. gateway.B .. ":8080/big.bin && sha256sum "
      .. q(dst))
    assert.are.equal(0, rc, out)
    assert.are.equal(sum, out:match("^(%x+)"))
    local res = gw:stop()
    assert.are.equal(0, res.rc, res.stderr)
    -- No hook, no fault: the direct path, with the kernels' GSO super-packets kept whole.
    assert.are.equal(res.stats.fwd_in, res.stats.fwd_direct)
    assert.is_true(res.stats.fwd_gso > 0)
  end)

  it("lets hooks judge super-packets whole when the script asks (tcplua.super_packets)", function()
    local gw = gateway.new({}, "spec/tools/gateway_super.lua")
    if not gw then return end
    local _, sum = make_file(gw.b, 20 * 1000 * 1000)
    http_server(gw, 8080)
    local dst = gw.a.tmp .. "/got.bin"
    local out, rc = gw.a:run("timeout 60 curl -sS -o " .. q(dst) .. " http://" .. gateway.B .. ":8080/big.bin && sha256sum "
      .. q(dst))
    assert.are.equal(0, rc, out)
    assert.are.equal(sum, out:match("^(%x+)"))
    local res = gw:stop()
    local max = tonumber(res.stdout:match("max segment (%d+)"))
    assert.is_true(max and max > 1500, res.stdout)
    assert.is_true(res.stats.hook_queued_in > 0 and res.stats.fwd_gso > 0)
    -- The flow table counts a super-packet as its wire segments.
    local segs = tonumber(res.stdout:match("segs_s2c (%d+)"))
    assert.is_true(segs >= 20 * 1000 * 1000 / 1448, res.stdout)
  end)
end)
