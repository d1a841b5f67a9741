-- Interop with TUN offloads (--offload on, the default; core/host_offload.c):
-- 20 MB echoed byte-exact through examples/echo.lua, with the kernel
-- cutting our TSO super-segments and handing us GRO'd ones; and the same
-- with --offload off, where every datagram fits the MTU. Needs root.
local interop = require "helpers.interop"

local STACK = interop.STACK
local MB20 = 20 * 1024 * 1024
local q = interop.quote

local function echo(args)
  local ns = interop.stack(args, "examples/echo.lua")
  if not ns then return nil end
  interop.random_file(ns, "in", MB20)
  local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 120 nc -N " .. STACK .. " 7 < in > out")
  local res = interop.stop(ns)
  assert.equal(0, rc, "nc failed or timed out: " .. out .. " (" .. interop.digest(res.stats) .. ")")
  assert.equal(MB20, interop.size(ns, "out"))
  assert.equal(interop.sha256(ns, "in"), interop.sha256(ns, "out"))
  assert.equal(0, res.rc, res.stderr)
  return res.stats
end

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
