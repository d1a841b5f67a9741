-- The binary's scatter output (core/host/host_loop.c:host_to_tun_vec): with TUN
-- offloads on, TSO super-segments go to the kernel as one writev of the
-- virtio header, the IP+TCP headers and the send ring's spans, with no
-- payload copy; with a capture on (--pcap), the same run takes the
-- whole-datagram path. Either way the stream arrives byte-exact. Needs root.
local interop = require "helpers.interop"

local MB8 = 8 * 1024 * 1024

local function echo(args) return interop.echo_file(args, MB8) end

describe("tcp interop: scatter output to the TUN", function()
  it("sends super-segments straight from the send ring and echoes 8 MB byte-exact", function()
    local s = echo({ "--seed", "61" })
    if not s then return end
    assert.equal(0, s.host_tun_tx_error, interop.digest(s))
    assert.is_true(s.host_tun_tx_gather > 0, "no gathered write: " .. interop.digest(s))
    assert.is_true(s.host_tun_tx_gather <= s.host_tun_tx)
  end)

  it("writes whole datagrams while a capture needs them, still byte-exact", function()
    local s = echo({ "--seed", "62", "--pcap", "/dev/null" })
    if not s then return end
    assert.equal(0, s.host_tun_tx_error, interop.digest(s))
    assert.equal(0, s.host_tun_tx_gather, interop.digest(s))
    assert.is_true(s.host_tun_tx > 0)
  end)
end)
