-- Interop with TUN offloads (--offload on, the default; core/host/host_offload.c):
-- 20 MB echoed byte-exact through examples/echo.lua, with the kernel
-- cutting our TSO super-segments and handing us GRO'd ones; and the same
-- with --offload off, where every datagram fits the MTU. Needs root.
local interop = require "helpers.interop"

local MB20 = 20 * 1024 * 1024

local function echo(args) return interop.echo_file(args, MB20) end

describe("tcp interop: TUN offloads", function()
  it("echoes 20 MB byte-exact with --offload on, in far fewer datagrams than MSS-sized segments", function()
    local s = echo({ "--seed", "51" })
    if not s then return end
    assert.equal(0, s.drop_tcp_checksum, interop.digest(s))
    -- 20 MB each way in 1448-byte segments would be ~14500 datagrams per
    -- direction; TSO and GRO carry up to 45 MSS each
    assert.is_true(s.host_tun_tx < 14500 / 4, "datagrams written: " .. tostring(s.host_tun_tx))
    assert.is_true(s.host_tun_rx < 14500 / 2, "datagrams read: " .. tostring(s.host_tun_rx))
  end)

  it("echoes 20 MB byte-exact with --offload off, every datagram within the MTU", function()
    local s = echo({ "--seed", "52", "--offload", "off" })
    if not s then return end
    assert.equal(0, s.drop_tcp_checksum, interop.digest(s))
    -- at least one datagram per 1448-byte segment (the echo's ACKs ride on its data)
    assert.is_true(s.host_tun_tx >= math.ceil(MB20 / 1448), "datagrams written: " .. tostring(s.host_tun_tx))
  end)
end)
