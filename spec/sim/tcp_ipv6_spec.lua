-- TCP over IPv6 (RFC 9293 with RFC 8200 8.1's pseudo-header): two stacks on
-- the sim link (fd77::1 and fd77::2), and a raw IPv6 peer for the bytes on
-- the wire: the checksum, MSS = MTU - 60, a flow label per connection (RFC
-- 6437), RSTs, SYN cookies, ICMPv6 errors to TCP. IPv4 on the same stacks
-- goes on as before.
local core = require "tcplua.core"
local tcpsim = require "helpers.tcpsim"
local tcppkt = require "helpers.tcppkt"
local P = require "helpers.ipv6pkt"
local P4 = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi
local N = P.NH

local function family(s)
  local l, r = ffi.new("uint8_t[16]"), ffi.new("uint8_t[16]")
  local f = C.tl_sock_family(s, l, r)
  return f, ffi.string(l, 16), ffi.string(r, 16)
end

describe("TCP over IPv6 between two stacks", function()
  it("connects and moves 1 MB each way byte-exact, with MSS = MTU - 60", function()
    local w = tcpsim.pair { seed = 61 }
    local c, srv = w:establish(80, true)
    local f, l, r = family(srv)
    assert.are.same({ 6, w.addr6_b, w.addr6_a }, { f, l, r })
    -- 1500 - 40 - 20, less 12 for the timestamps both sides agreed
    assert.are.equal(1500 - 60 - 12, w:info(c).snd_mss)
    local up = tcpsim.bytes(1000000, 1)
    local got, fin = w:stream(c, srv, up)
    assert.is_true(fin)
    assert.is_true(got == up, "upload differs")
    local down = tcpsim.bytes(1000000, 2)
    got, fin = w:stream(srv, c, down)
    assert.is_true(fin)
    assert.is_true(got == down, "download differs")
    local sa, sb = core.stats(w.a), core.stats(w.b)
    assert.is_true(sa.ip6_out > 700 and sb.ip6_in > 700)
    assert.are.same({ 0, 0, 0, 0 }, { sa.ip_in, sb.ip_in, sa.ip6_fragmented, sb.drop_tcp_checksum })
  end)

  it("listens on both families with one listener", function()
    local w = tcpsim.pair { seed = 62 }
    local l = w:listen(w.b, 7)
    local c4 = w:connect(w.a, w.addr_b, 7)
    local c6 = w:connect6(w.a, w.addr6_b, 7)
    local got = {}
    w:run_until(function()
      w:accept_all(l, got)
      return #got == 2 and w:state(c4) == "ESTABLISHED" and w:state(c6) == "ESTABLISHED"
    end, 10e6)
    assert.are.equal(2, #got)
    local fams = { (family(got[1])), (family(got[2])) }
    table.sort(fams)
    assert.are.same({ 4, 6 }, fams)
    -- an IPv4-mapped address connects over IPv4
    local m = w:connect6(w.a, string.rep("\0", 10) .. "\255\255" .. P4.u32(w.addr_b), 7)
    assert.are.equal(4, (family(m)))
  end)

  it("delivers byte-exact through 2% loss both ways", function()
    local w = tcpsim.pair { seed = 63, impair_a = { loss = 0.02 }, impair_b = { loss = 0.02 } }
    local c, srv = w:establish(80, true)
    local data = tcpsim.bytes(300000, 3)
    local got, fin = w:stream(c, srv, data, 120e6)
    assert.is_true(fin)
    assert.is_true(got == data)
    assert.is_true(core.stats(w.a).tcp_retrans_segs > 0)
  end)

  it("answers SYNs with cookies when the SYN queue is full, and the cookie makes the connection", function()
    local w = tcpsim.pair { seed = 64 }
    local l = w:listen(w.b, 80, 1)
    -- one half-open connection from a peer that never answers fills the queue
    local seg = tcppkt.segment { src = "10.0.0.1", dst = "10.0.0.2", sport = 999, dport = 80, seq = 1, flags = "S" }
    local syn = P.datagram({ next = N.TCP, src = "fd77::99", dst = "fd77::2" }, seg)
    syn = syn:sub(1, 56) .. P.u16(0) .. syn:sub(59)
    syn = syn:sub(1, 56) .. P.u16(P.csum6("fd77::99", "fd77::2", 6, syn:sub(41))) .. syn:sub(59)
    C.tl_stack_input(w.b, syn, #syn, w:now()) -- its SYN-ACK goes nowhere
    w:advance(1000)
    local c = w:connect6(w.a, w.addr6_b, 80)
    local srv
    w:run_until(function()
      srv = srv or (C.tl_accept(l) ~= nil and true)
      return srv and w:state(c) == "ESTABLISHED"
    end, 10e6)
    assert.is_true(srv)
    local sb = core.stats(w.b)
    assert.are.same({ 1, 1 }, { sb.tcp_syncookies_sent, sb.tcp_syncookies_accepted })
  end)
end)

describe("TCP over IPv6 on the wire", function()
  -- A stack (fd77::2) listening on 80, and a raw peer (fd77::1).
  local function setup(tweak)
    local sim = ffi.gc(C.tl_sim_new(5, 0), C.tl_sim_free)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    if tweak then tweak(cfg) end
    local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
    local raw = C.tl_sim_add_raw(sim, P4.addr("10.77.0.1"))
    local err = ffi.new("int[1]")
    local l = C.tl_listen(st, 80, 0, err)
    return sim, st, raw, l
  end

  -- A TCP segment (tcppkt fields) from fd77::1 to fd77::2 over IPv6.
  local function seg6(t, src)
    local s = tcppkt.segment(t)
    s = s:sub(1, 16) .. "\0\0" .. s:sub(19)
    local c = P.csum6(src or "fd77::1", "fd77::2", 6, s)
    if t.bad_csum6 then c = (c + 1) % 65536 end
    return P.datagram({ next = N.TCP, src = src }, s:sub(1, 16) .. P.u16(c) .. s:sub(19))
  end

  local function exchange(sim, st, raw, pkts)
    for _, s in ipairs(pkts) do C.tl_stack_input(st, s, #s, C.tl_sim_now(sim)) end
    C.tl_sim_run(sim, C.tl_sim_now(sim) + 1000)
    local out = {}
    for _, s in ipairs(P.recv_all(sim, raw)) do
      local p = P.parse(s)
      assert.are.equal(6, p.proto)
      assert.are.equal(0, P.csum6("fd77::2", "fd77::1", 6, p.payload), "TCP checksum over the IPv6 pseudo-header")
      p.tcp = tcppkt.parse(P4.datagram({ proto = 6, src = "10.0.0.2", dst = "10.0.0.1" }, p.payload))
      out[#out + 1] = p
    end
    return out
  end

  it("answers a SYN with MSS = MTU - 60 and one flow label per connection", function()
    local sim, st, raw = setup()
    local out = exchange(sim, st, raw, { seg6 { sport = 4000, dport = 80, seq = 7, flags = "S", mss = 1440 },
      seg6 { sport = 4001, dport = 80, seq = 9, flags = "S", mss = 1440 } })
    assert.are.equal(2, #out)
    assert.are.equal("S.", out[1].tcp.flags)
    assert.are.equal(1440, out[1].tcp.mss)
    assert.are.equal(8, out[1].tcp.ack)
    assert.are_not.equal(0, out[1].flow)
    assert.are_not.equal(out[1].flow, out[2].flow)
    -- the handshake's end and data: the same label on every segment of a connection
    local a = out[1].tcp
    local more = exchange(sim, st, raw, { seg6 { sport = 4000, dport = 80, seq = 8, ack = a.seq + 1, flags = ".",
      data = "hello" } })
    assert.are.equal(1, #more)
    assert.are.equal(out[1].flow, more[1].flow)
    assert.are.equal(13, more[1].tcp.ack)
  end)

  it("resets a closed port, drops a bad checksum, and counts both", function()
    local sim, st, raw = setup()
    local before = core.stats(st)
    local out = exchange(sim, st, raw, { seg6 { sport = 4000, dport = 81, seq = 7, flags = "S" },
      seg6 { sport = 4000, dport = 80, seq = 7, flags = "S", bad_csum6 = true } })
    assert.are.equal(1, #out)
    assert.are.equal("R.", out[1].tcp.flags)
    assert.are.equal(8, out[1].tcp.ack)
    local s = core.stats(st)
    assert.are.same({ 1, 1 }, { s.drop_tcp_no_socket - before.drop_tcp_no_socket,
      s.drop_tcp_checksum - before.drop_tcp_checksum })
  end)

  it("lowers the MSS on packet too big and aborts a connect on port unreachable", function()
    local sim, st, raw, l = setup()
    local out = exchange(sim, st, raw, { seg6 { sport = 4000, dport = 80, seq = 7, flags = "S", mss = 1440 } })
    local a = out[1].tcp
    exchange(sim, st, raw, { seg6 { sport = 4000, dport = 80, seq = 8, ack = a.seq + 1, flags = "." } })
    local s = C.tl_accept(l)
    assert.is_true(s ~= nil)
    local data = string.rep("d", 4000)
    assert.are.equal(4000, tonumber(C.tl_send(s, data, #data, C.tl_sim_now(sim))))
    assert.is_true(#exchange(sim, st, raw, {}) >= 2) -- the first flight, 1440-byte segments
    local before = C.tl_sim_now(sim)
    local quote = P.datagram({ next = N.TCP, src = "fd77::2", dst = "fd77::1" },
      tcppkt.segment { sport = 80, dport = 4000, seq = a.seq + 1, ack = 8, flags = "." } .. string.rep("d", 1000))
    out = exchange(sim, st, raw, { P.datagram({ next = N.ICMP6 }, P.icmp6(2, 0, P.u32(1300), quote)) })
    local info = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, info)
    assert.are.equal(1300 - 60, info.snd_mss)
    for _, p in ipairs(out) do assert.is_true(40 + p.plen <= 1300) end
    assert.is_true(C.tl_sim_now(sim) >= before)
    -- a connect answered by port unreachable fails at once (RFC 1122 4.2.3.9 as for IPv4)
    local err = ffi.new("int[1]")
    local c = C.tl_connect6(st, P.PEER, 9, 5555, C.tl_sim_now(sim), err)
    out = exchange(sim, st, raw, {})
    assert.are.equal("S", out[1].tcp.flags)
    local q = P.datagram({ next = N.TCP, src = "fd77::2", dst = "fd77::1" }, out[1].payload)
    exchange(sim, st, raw, { P.datagram({ next = N.ICMP6 }, P.icmp6(1, 4, nil, q)) })
    assert.are.equal(C.TL_EUNREACH, C.tl_sock_error(c))
  end)
end)

describe("ISNs over 128-bit addresses (RFC 6528)", function()
  it("keep IPv4's ISNs and tell IPv6 addresses apart in every byte", function()
    local key = ffi.new("struct tl_isn_key")
    for i = 0, 15 do key.k[i] = i * 7 end
    local a4, b4 = P4.u32(0x0a000001), P4.u32(0x0a000002)
    assert.are.equal(C.tl_isn(key, 0x0a000001, 80, 0x0a000002, 4000, 0),
      C.tl_isn_bytes(key, a4, 80, b4, 4000, 4, 0))
    local seen = {}
    local base = P.a6("fd77::2")
    for i = 1, 16 do
      local r = base:sub(1, i - 1) .. string.char((base:byte(i) + 1) % 256) .. base:sub(i + 1)
      local isn = tonumber(C.tl_isn_bytes(key, P.US, 80, r, 4000, 16, 0))
      assert.is_nil(seen[isn])
      seen[isn] = true
    end
  end)
end)

describe("Lua addresses of either family", function()
  it("parse and print IPv6 text as RFC 5952 writes it, and refuse what is not an address", function()
    local cases = { ["fd77::2"] = "fd77::2", ["FD77:0:0:0:0:0:0:2"] = "fd77::2", ["::"] = "::", ["::1"] = "::1",
      ["2001:db8:0:0:1:0:0:1"] = "2001:db8::1:0:0:1", ["1:0:0:2:0:0:0:3"] = "1:0:0:2::3",
      ["::ffff:10.77.0.1"] = "::ffff:a4d:1", ["1:2:3:4:5:6:7:8"] = "1:2:3:4:5:6:7:8" }
    for text, want in pairs(cases) do
      local a = assert(core.ip6(text))
      assert.are.equal(16, #a)
      assert.are.equal(want, core.ip6str(a), text)
    end
    for _, bad in ipairs { "fd77::2::1", "1:2:3:4:5:6:7:8:9", "g::1", "12345::", "10.77.0.1", "", ":::" } do
      assert.is_nil(core.ip6(bad), bad)
    end
  end)

  it("connect to an IPv6 address or a hosts-file name, and see both ends as text", function()
    local hosts = require "tcplua.hosts"
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("# test\n10.0.0.2 four\nfd77::2  six six.example both\n10.0.0.2 both\n")
    f:close()
    local saved = hosts.path
    hosts.path = path
    finally(function()
      hosts.path = saved
      os.remove(path)
    end)
    assert.are.equal(core.ip6("fd77::2"), hosts.resolve("six"))
    assert.are.equal(core.ip("10.0.0.2"), hosts.resolve("four"))
    assert.are.equal(core.ip("10.0.0.2"), hosts.resolve("both")) -- a name on both: its IPv4 line
    local sim = require("tcplua.sim").new { seed = 65, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1", addr6 = "fd77::1" }
    local b = sim:stack { addr = "10.0.0.2", addr6 = "fd77::2" }
    assert.are.equal("fd77::2", b.config().addr6)
    local seen = {}
    assert(b.listen(7, function(conn)
      seen[#seen + 1] = { conn:peer() }
      conn:send(assert(conn:receive("*a")))
    end))
    local res, loopback = {}, nil
    a.spawn(function()
      for _, host in ipairs { "six", "fd77::2", "four" } do
        local c = assert(a.connect(host, 7))
        local la = c:sockname()
        local ra, rp = c:peer()
        c:send(host)
        c:shutdown()
        res[#res + 1] = { la, ra, rp, c:receive("*a") }
        c:close()
      end
      local _, err = a.connect("::1", 7)
      loopback = err
    end)
    sim:run_until(function() return loopback end, 10000)
    assert.are.same({ { "fd77::1", "fd77::2", 7, "six" }, { "fd77::1", "fd77::2", 7, "fd77::2" },
      { "10.0.0.1", "10.0.0.2", 7, "four" } }, res)
    assert.are.equal("fd77::1", seen[1][1])
    assert.are.equal("10.0.0.1", seen[3][1])
    assert.matches("loopback", loopback)
  end)
end)
