-- The fault side over IPv6 through a real TUN: the kernel's nc -6 echoes a
-- file through examples/echo.lua with --loss 2% each way, --trace,
-- --tseq and --pcap on; the transfer is byte-exact, the trace shows
-- tcpdump's IP6 lines (the losses among them), the time-sequence CSV the
-- connection with its retransmissions, and tshark reads the capture's
-- IPv6 segments. Needs root (pending otherwise).
local interop = require "helpers.interop"
local netns = require "helpers.netns"

local q = interop.quote

describe("faults over IPv6", function()
  it("nc -6 through --loss 2% with --trace, --tseq and --pcap: byte-exact, all three show IPv6", function()
    local ns = interop.namespace()
    if not ns then return end
    local csv, cap = ns.tmp .. "/run.csv", ns.tmp .. "/run.pcapng"
    interop.start(ns, { "--stats", "--loss", "2%", "--seed", "7", "--trace", "--tseq", csv, "--pcap", cap },
      "examples/echo.lua")
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && head -c 1000000 /dev/urandom > in && "
      .. "timeout 120 nc -6 -N fd77::2 7 < in > out && cmp in out && echo equal")
    assert.equal(0, rc, out)
    assert.matches("equal", out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    local s = res.stats
    assert.is_true(s.host_impair_rx_lost + s.host_impair_tx_lost > 0, res.stdout)
    local err = res.stderr
    -- tcpdump's form: "in IP6 fd77::1.40000 > fd77::2.7: Flags [S], seq ..."
    assert.truthy(err:match("in IP6 fd77::1%.%d+ > fd77::2%.7: Flags %[S%], seq %d+"), err:sub(1, 2000))
    assert.truthy(err:match("out IP6 fd77::2%.7 > fd77::1%.%d+: Flags %[S%.%]"), err:sub(1, 2000))
    assert.truthy(err:find("IP6 [^\n]*%[dropped by fault: loss"), "no loss in the trace")
    assert.falsy(err:find(" 10%.77%.0%.%d+%.%d+ > "), "an IPv4 segment in an IPv6 run")
    local rows = netns.read_file(csv)
    local segs, retrans = 0, 0
    for line in rows:gmatch("[^\n]+") do
      if line:find(",seg,", 1, true) then segs = segs + 1 end
      if line:find("retrans", 1, true) then retrans = retrans + 1 end
    end
    assert.is_true(segs > 1000, "tseq rows: " .. segs)
    assert.is_true(retrans > 0, "no retransmission in the tseq")
    local n = ns:run("tshark -r " .. q(cap) .. " -Y 'ipv6 && tcp.port == 7' 2>/dev/null | wc -l")
    assert.is_true(tonumber(n:match("%d+")) > 1000, "capture: " .. n)
  end)
end)
