-- Interop: options a client sets before connecting are in its SYN, as the
-- kernel's side of the TUN sees it (captured with tshark): MSS 700, no
-- timestamps, no SACK-permitted; and the kernel's SYN-ACK answers in kind.
local interop = require "helpers.interop"

local HOST = interop.HOST
local q = interop.quote

describe("connect options on the wire", function()
  it("tshark sees MSS 700 and no timestamps or SACK in the SYN of a client that set them", function()
    local ns = interop.namespace()
    if not ns then return end
    interop.start(ns, { "--seed", "31", "--offload", "off" }, "spec/tun/scripts/syn_options_client.lua",
      { HOST, "9100", "700" })
    -- tshark prints the fields of each packet as it sees it.
    local log, tpid = ns.tmp .. "/tshark.out", ns.tmp .. "/tshark.pid"
    ns:run("(timeout 60 tshark -n -l -i tcplua0 -T fields -E separator=, -e ip.proto -e tcp.port -e tcp.flags.syn "
      .. "-e tcp.flags.ack -e tcp.options.mss_val -e tcp.options.timestamp.tsval -e tcp.options.sack_perm "
      .. "> " .. q(log) .. " 2>/dev/null & echo $! > " .. q(tpid) .. ")")
    -- "Capturing on" comes before the capture runs: ping until it shows.
    assert(interop.wait_for(function()
      ns:run("ping -c 1 -W 1 " .. interop.STACK .. " >/dev/null")
      return interop.read_file(log):match("^1,") or interop.read_file(log):match("\n1,")
    end, 15000), "tshark never saw a ping")
    ns:run("cd " .. q(ns.tmp) .. " && (timeout 30 socat -u TCP-LISTEN:9100,bind=" .. HOST .. " OPEN:got,creat > socat.log 2>&1 &)")
    local line = interop.wait_stdout(ns, "client: [^\n]*", 20000)
    assert.equal("client: connected mss=700 timestamps=0 sack=0", line)
    assert(interop.wait_for(function() return interop.read_file(ns.tmp .. "/got") ~= "" end, 10000))
    -- The SYN that connected and the kernel's SYN-ACK (earlier SYNs of the
    -- refused attempts were answered by RSTs).
    local syn, synack
    assert(interop.wait_for(function()
      for l in interop.read_file(log):gmatch("[^\n]+") do
        local f = {}
        for v in (l .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
        -- proto, sport, dport, syn, ack, mss, tsval, sack_perm
        if f[1] == "6" and (f[4] == "1" or f[4] == "True") then
          if f[5] == "1" or f[5] == "True" then synack = f else syn = f end
        end
      end
      return syn and synack
    end, 10000), "no SYN and SYN-ACK seen: " .. interop.read_file(log))
    ns:run("kill $(cat " .. q(tpid) .. ")")
    assert.equal("700", syn[6])
    assert.equal("", syn[7])     -- no timestamp option
    assert.equal("", syn[8])     -- no SACK-permitted
    -- The kernel answers without timestamps or SACK (RFC 7323 3.2, RFC 2018 2).
    assert.equal("", synack[7])
    assert.equal("", synack[8])
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.equal("hello through a chosen SYN\n", interop.read_file(ns.tmp .. "/got"))
  end)
end)
