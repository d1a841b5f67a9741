-- TUN offloads for IPv6 (core/host/host_offload.c, TUN_F_TSO6): the
-- kernel's nc -6 sends 10 MB to examples/echo.lua and reads 10 MB back,
-- byte-exact, with our super-segments leaving as VIRTIO_NET_HDR_GSO_TCPV6
-- (the kernel cuts them) and the kernel's GRO'd IPv6 super-packets taken
-- whole. Needs root (pending otherwise).
local interop = require "helpers.interop"

local q = interop.quote
local MB10 = 10 * 1000 * 1000

describe("tcp interop over IPv6: TUN offloads", function()
  it("echoes 10 MB byte-exact through nc -6 with --offload on, in super-segments both ways", function()
    local ns = interop.stack({ "--seed", "61" }, "examples/echo.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && head -c " .. MB10 .. " /dev/urandom > in && "
      .. "timeout 120 nc -6 -N fd77::2 7 < in > out && cmp in out && echo equal")
    assert.equal(0, rc, out)
    assert.matches("equal", out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    local s = res.stats
    assert.equal(0, s.drop_tcp_checksum, interop.digest(s))
    assert.is_true(s.tcp_tso6_out > 0 and s.host_tun_tx_gso6 > 0, res.stdout)
    assert.is_true(s.host_tun_rx_gso6 > 0, res.stdout)
    -- written as headers plus send-ring spans, without a payload copy
    assert.is_true(s.host_tun_tx_gather > 0, res.stdout)
    -- 10 MB each way in 1428-byte segments would be ~7000 datagrams per
    -- direction; super-segments carry many MSS each
    assert.is_true(s.host_tun_tx < 7000 / 2, "datagrams written: " .. tostring(s.host_tun_tx))
    assert.is_true(s.host_tun_rx < 7000 / 2, "datagrams read: " .. tostring(s.host_tun_rx))
  end)
end)
