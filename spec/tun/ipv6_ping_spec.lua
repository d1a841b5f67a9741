-- IPv6 through a real TUN: the kernel in a fresh network namespace pings
-- the stack over IPv6 (the TUN gets fd77::1/64 through rtnetlink), and a
-- packet socket hands it malformed IPv6 the kernel would never send: each
-- is counted and dropped, and the stack keeps answering. Needs root
-- (pending otherwise).
local netns = require "helpers.netns"
local P = require "helpers.ipv6pkt"
local N = P.NH

local STACK6 = "fd77::2"

describe("tcplua on a TUN speaks IPv6", function()
  local ok, why = netns.available()

  local function started(args)
    local ns = netns.new()
    ns:start(args or { "--stats" }, "spec/tun/scripts/idle.lua")
    return ns
  end

  it("answers ping -6 of 56 and 3,000 bytes (fragmented both ways), as the capture shows", function()
    if not ok then pending(why) return end
    local ns = netns.new()
    finally(function() ns:delete() end)
    local pcap = ns.tmp .. "/ip6.pcapng"
    ns:start({ "--stats", "--pcap", pcap }, "spec/tun/scripts/idle.lua")
    assert(ns:wait_up())
    local out, rc = ns:run("ip -6 -o addr show dev tcplua0")
    assert.matches("inet6 fd77::1/64", out)
    out, rc = ns:run("ping -6 -c 3 -i 0.2 -W 2 " .. STACK6)
    assert.equal(0, rc, out)
    assert.matches("3 received", out)
    out, rc = ns:run("ping -6 -c 2 -i 0.2 -s 3000 -W 2 " .. STACK6)
    assert.equal(0, rc, out)
    assert.matches("3008 bytes from fd77::2", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.ip6_reasm_ok >= 2, res.stdout)
    assert.is_true(res.stats.ip6_fragmented >= 2, res.stdout)
    for name, v in pairs(res.stats) do
      if name:match("^drop_") then assert.equal(0, v, name) end
    end
    -- tshark reads the capture: every request and reply, the fragments reassembled
    out = netns.sh("tshark -r " .. netns.quote(pcap) .. " -Y 'icmpv6.type == 129' -T fields -e ipv6.src -e data.len")
    local replies, big = 0, 0
    for src, len in out:gmatch("(%S+)%s+(%d+)\n") do
      if src == STACK6 then replies = replies + 1 end
      if tonumber(len) == 3000 then big = big + 1 end
    end
    assert.are.same({ 5, 2 }, { replies, big }, out)
  end)

  it("answers a bounded ping -6 flood without loss", function()
    if not ok then pending(why) return end
    local ns = started()
    finally(function() ns:delete() end)
    assert(ns:wait_up())
    local out, rc = ns:run("ping -6 -f -q -c 5000 -w 30 " .. STACK6)
    assert.equal(0, rc, out)
    assert.matches("5000 packets transmitted, 5000 received, 0%% packet loss", out)
    local res = ns:stop()
    assert.is_true(res.stats.icmp6_echo_out >= 5000)
  end)

  it("stays silent about IPv6 when told --no-ipv6", function()
    if not ok then pending(why) return end
    local ns = started({ "--stats", "--no-ipv6" })
    finally(function() ns:delete() end)
    assert(ns:wait_up())
    local out = ns:run("ip -6 -o addr show dev tcplua0")
    assert.not_matches("fd77", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.matches("tcplua0 up, stack 10.77.0.2, host 10.77.0.1/24 %-%- try: ping 10.77.0.2\n", res.stdout)
  end)

  it("counts and drops malformed IPv6, answers where RFC 8200 asks, and keeps answering", function()
    if not ok then pending(why) return end
    local ns = started()
    local ps
    finally(function()
      if ps then ps:close() end
      ns:delete()
    end)
    assert(ns:wait_up())
    ps = ns:packet_socket(6)
    local function echo(id, data) return P.echo_request(id, 1, data or "probe") end
    local big = echo(9, string.rep("o", 2000))
    local o1 = P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 0, true, 41) .. big:sub(1, 1024))
    local o2 = P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 1016, false, 41) .. big:sub(1017))
    local many = ""
    for _ = 1, 17 do many = many .. P.opts(N.DST) end
    local bad = {
      P.header { next = 58, plen = 200 } .. echo(1),                                   -- payload length
      P.datagram({ next = N.ROUTING }, P.routing(N.ICMP6, 0, 1) .. echo(2)),          -- RH0, RFC 5095
      P.datagram({ next = N.DST }, P.opts(N.HOP) .. P.opts(N.ICMP6) .. echo(3)),      -- hop-by-hop not first
      P.datagram({ next = N.DST }, many:sub(1, -9) .. "\58" .. many:sub(-7) .. echo(4)), -- chain of 17
      o1, o2,                                                                          -- overlap, RFC 5722
      P.datagram({ next = N.FRAG }, P.frag(N.DST, 0, true, 42) .. P.opts(N.ICMP6, string.rep("\1\0", 20)):sub(1, 16)), -- tiny
      P.datagram({ next = N.DST }, P.opts(N.ICMP6, "\190\2\0\0") .. echo(5)),        -- option type 10xxxxxx
    }
    local GOOD = 0x600d
    local good = P.datagram({ next = N.ICMP6 }, echo(GOOD))
    assert.equal(#bad + 1, ps:send(bad) + ps:send({ good }))
    -- FIFO: once the good request is answered, every bad one was judged.
    local seen = {}
    local replied = netns.wait_for(function()
      for _, d in ipairs(ps:recv_all()) do seen[#seen + 1] = d end
      for _, d in ipairs(seen) do
        local p = P.parse(d)
        if p.src == P.US and p.proto == 58 and p.payload:byte(1) == 129 and P.get16(p.payload, 5) == GOOD then
          return true
        end
      end
    end, 3000)
    assert.truthy(replied, "no reply to the well-formed request")
    local problems = {}
    for _, d in ipairs(seen) do
      local p = P.parse(d)
      if p.src == P.US and p.proto == 58 and p.payload:byte(1) == 4 then
        problems[#problems + 1] = p.payload:byte(2) .. "@" .. P.get32(p.payload, 5)
      end
    end
    table.sort(problems)
    -- RH0: code 0 at the routing type (42); hop-by-hop: code 1 at the Next
    -- Header naming it (40); the tiny first fragment: code 3, pointer 0;
    -- the option: code 2 at its type (42).
    assert.are.same({ "0@42", "1@40", "2@42", "3@0" }, problems)
    local out, rc = ns:run("ping -6 -c 2 -i 0.2 -W 2 " .. STACK6)
    assert.equal(0, rc, out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    local s = res.stats
    assert.are.same({ 1, 1, 1, 1, 1, 1, 1 }, { s.drop_ip6_payload_len, s.drop_ip6_routing,
      s.drop_ip6_hbh_not_first, s.drop_ip6_ext_chain, s.drop_ip6_frag_overlap, s.drop_ip6_frag_tiny,
      s.drop_ip6_option }, res.stdout)
  end)
end)
