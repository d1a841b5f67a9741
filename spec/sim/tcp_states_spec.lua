-- RFC 9293 state diagram transitions between two stacks (and a few against
-- a scripted peer), checked through the public API.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local tcpsim = require "helpers.tcpsim"
local pkt = require "helpers.tcppkt"

local function has(mask, bitname) return bit.band(mask, C[bitname]) ~= 0 end

describe("tcp states", function()
  it("simultaneous open: SYN-SENT -> SYN-RECEIVED -> ESTABLISHED on both ends", function()
    local w = tcpsim.pair { seed = 21 }
    local a = w:connect(w.a, w.addr_b, 6000, 5000)
    local b = w:connect(w.b, w.addr_a, 5000, 6000)
    -- the SYNs cross (1 ms one way): both are in SYN-RECEIVED before the SYN-ACKs land
    w:advance(1500)
    assert.are.equal("SYN-RECEIVED", w:state(a))
    assert.are.equal("SYN-RECEIVED", w:state(b))
    assert.is_true(w:run_until(function()
      return w:state(a) == "ESTABLISHED" and w:state(b) == "ESTABLISHED"
    end, 5e6))
    assert.is_true(has(w:took(a), "TL_EV_CONNECTED"))
    assert.are.equal(5, w:send(a, "ping!"))
    assert.is_true(w:run_until(function() return C.tl_readable(b) == 5 end, 1e6))
  end)

  it("simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both ends", function()
    local w = tcpsim.pair { seed = 22, config = function(cfg) cfg.tcp_msl_us = 1e6 end }
    local c, s = w:establish(80)
    C.tl_shutdown(c, w:now())
    C.tl_shutdown(s, w:now())
    local seen = {}
    assert.is_true(w:run_until(function()
      seen[w:state(c)] = true
      return w:state(c) == "TIME-WAIT" and w:state(s) == "TIME-WAIT"
    end, 5e6))
    assert.is_true(seen["CLOSING"], "never in CLOSING")
    assert.is_true(w:run_until(function() return w:state(c) == "CLOSED" and w:state(s) == "CLOSED" end, 5e6))
    C.tl_close(c, w:now())
    C.tl_close(s, w:now())
    assert.are.equal(1, C.tl_tcp_sock_count(w.b))   -- only the listener is left
    assert.are.equal(0, C.tl_tcp_sock_count(w.a))
  end)

  it("half-close: the closed direction ends, the other keeps flowing (RFC 9293 3.6)", function()
    local w = tcpsim.pair { seed = 23 }
    local c, s = w:establish(80)
    C.tl_shutdown(c, w:now())
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSE-WAIT" end, 1e6))
    assert.are.equal(C.TL_ECLOSED, select(2, w:read(s)))
    assert.is_true(w:send(c, "more") < 0, "sent after shutdown")
    local data = tcpsim.bytes(100000, 5)
    local got, fin = w:stream(s, c, data, 10e6)
    assert.is_true(got == data)
    assert.is_true(fin)
  end)

  it("abort sends RST: the peer sees TL_ERESET and a CLOSED event (RFC 9293 3.10.5)", function()
    local w = tcpsim.pair { seed = 24 }
    local c, s = w:establish(80)
    w:took(s)
    C.tl_abort(c, w:now())
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSED" end, 1e6))
    assert.are.equal(C.TL_ERESET, C.tl_sock_error(s))
    local m = w:took(s)
    assert.is_true(has(m, "TL_EV_CLOSED") and has(m, "TL_EV_READABLE"))
    assert.are.equal(C.TL_ERESET, C.tl_send(s, "x", 1, w:now()))
  end)

  it("reports WRITABLE when a full send buffer drains and SENT when all is acknowledged", function()
    local w = tcpsim.pair { seed = 25 }
    local c, s = w:establish(80)
    C.tl_setopt(c, C.TL_OPT_SNDBUF, 8192)
    local data = tcpsim.bytes(20000, 1)
    local n = w:send(c, data)
    assert.are.equal(8192, n)
    assert.are.equal(0, tonumber(C.tl_writable(c)))
    w:took(c)
    assert.is_true(w:run_until(function() return has(w.events[tostring(ffi.cast("uintptr_t", c))] or 0, "TL_EV_WRITABLE") end, 1e6))
    assert.is_true(tonumber(C.tl_writable(c)) > 0)
    w:took(c)
    assert.is_true(w:run_until(function() return has(w:took(c), "TL_EV_SENT") end, 1e6))
    assert.are.equal(0, w:info(c).unacked)
    assert.are.equal(8192, #w:read(s))
  end)

  it("stalls on a zero window, probes, and resumes when the reader drains (RFC 9293 3.8.6.1)", function()
    local w = tcpsim.pair { seed = 26, config = function(cfg, which) if which == "b" then cfg.tcp_rcvbuf, cfg.tcp_rcvbuf_max = 4096, 0 end end }
    local c, s = w:establish(80)
    local data = tcpsim.bytes(30000, 2)
    w:send(c, data)
    w:advance(20e6)
    assert.are.equal(4096, tonumber(C.tl_readable(s)))
    assert.are.equal(0, w:info(c).snd_wnd)
    assert.is_true(w:info(c).probes + w:info(c).total_retrans >= 3, "no zero-window probes")
    assert.are.equal("ESTABLISHED", w:state(c))
    local got = {}
    assert.is_true(w:run_until(function()
      local d = w:read(s)
      if #d > 0 then got[#got + 1] = d end
      return #table.concat(got) == #data
    end, 10e6))
    assert.is_true(table.concat(got) == data)
  end)

  it("completes a handshake whose ACK found the accept queue full, once there is room", function()
    local w = tcpsim.pair { seed = 27 }
    local l = w:listen(w.b, 80, 1)
    local c1 = w:connect(w.a, w.addr_b, 80)
    local c2 = w:connect(w.a, w.addr_b, 80)
    w:advance(500000)
    assert.are.equal("ESTABLISHED", w:state(c1))
    assert.is_true(core.stats(w.b).drop_tcp_backlog >= 1)
    local s1 = C.tl_accept(l)
    assert.is_true(s1 ~= nil, "nothing to accept")
    local s2
    assert.is_true(w:run_until(function()
      local s = C.tl_accept(l)
      if s ~= nil then s2 = s end
      return s2 ~= nil
    end, 30e6))
    assert.are.equal("ESTABLISHED", w:state(c2))
    assert.are.equal("ESTABLISHED", w:state(s2))
  end)

  it("keepalive probes an idle peer, and times out a dead one (RFC 1122 4.2.3.6)", function()
    local w = tcpsim.pair { seed = 28 }
    local c, s = w:establish(80)
    assert.are.equal(0, C.tl_setopt(c, C.TL_OPT_KEEPIDLE_MS, 1000))
    C.tl_setopt(c, C.TL_OPT_KEEPINTVL_MS, 500)
    C.tl_setopt(c, C.TL_OPT_KEEPCNT, 3)
    C.tl_setopt(c, C.TL_OPT_KEEPALIVE, 1)
    w:advance(5e6)
    assert.are.equal("ESTABLISHED", w:state(c))
    local probes = w:info(c).probes
    assert.is_true(probes >= 4, "probes: " .. probes)
    w:impair(w.ep_b, { loss = 1.0 })
    assert.is_true(w:run_until(function() return w:state(c) == "CLOSED" end, 10e6))
    assert.are.equal(C.TL_ETIMEOUT, C.tl_sock_error(c))
    assert.are.equal(1, core.stats(w.a).tcp_keepalive_timeout)
  end)

  it("defaults the keepalive idle time to two hours, and takes days (RFC 1122 4.2.3.6)", function()
    local w = tcpsim.pair { seed = 30 }
    local c = w:establish(80)
    assert.are.equal(7200 * 1000, C.tl_getopt(c, C.TL_OPT_KEEPIDLE_MS))
    assert.are.equal(0, C.tl_setopt(c, C.TL_OPT_KEEPIDLE_MS, 3 * 86400 * 1000))
    assert.are.equal(3 * 86400 * 1000, C.tl_getopt(c, C.TL_OPT_KEEPIDLE_MS))
    C.tl_setopt(c, C.TL_OPT_KEEPIDLE_MS, 7200 * 1000)
    C.tl_setopt(c, C.TL_OPT_KEEPALIVE, 1)
    w:advance(7199e6)
    assert.are.equal(0, w:info(c).probes, "no probe before two idle hours")
    w:advance(2e6)
    assert.are.equal(1, w:info(c).probes, "one probe just after them")
  end)

  it("frees an orphaned FIN-WAIT-2 connection after 2*MSL", function()
    local w = tcpsim.pair { seed = 29, config = function(cfg) cfg.tcp_msl_us = 1e6 end }
    local c, s = w:establish(80)
    C.tl_close(c, w:now())
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSE-WAIT" end, 1e6))
    assert.are.equal(1, C.tl_tcp_sock_count(w.a))
    assert.is_true(w:run_until(function() return C.tl_tcp_sock_count(w.a) == 0 end, 5e6))
    assert.are.equal(1, core.stats(w.a).tcp_fin_wait2_timeout)
  end)

  it("answers data sent to a closed socket with RST (RFC 1122 4.2.2.13)", function()
    local w = tcpsim.pair { seed = 30 }
    local c, s = w:establish(80)
    C.tl_close(c, w:now())
    w:advance(100000)
    w:send(s, "late")
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSED" end, 1e6))
    assert.are.equal(C.TL_ERESET, C.tl_sock_error(s))
  end)
end)

-- ICMP errors about our segments, forged by a scripted peer.
local function icmp(p, typ, code, mtu, quoted)
  local q = quoted:sub(1, 28)
  local body = string.char(typ, code, 0, 0, 0, 0, math.floor(mtu / 256), mtu % 256) .. q
  local cs = tonumber(C.tl_csum(body, #body))
  body = body:sub(1, 2) .. string.char(math.floor(cs / 256), cs % 256) .. body:sub(5)
  local hdr = ffi.new("tl_ip_hdr")
  hdr.ttl, hdr.proto, hdr.total_len = 64, 1, 20 + #body
  hdr.src, hdr.dst = core.ip(p.peer_addr), core.ip(p.addr)
  local buf = ffi.new("uint8_t[20]")
  C.tl_ip_build(buf, hdr)
  local dg = ffi.string(buf, 20) .. body
  C.tl_sim_send(p.sim, p.raw, dg, #dg)
end

describe("tcp and ICMP errors (RFC 1122 4.2.3.9, RFC 5927)", function()
  it("aborts a connect on port unreachable, but keeps an established connection", function()
    local p = pkt.peer { seed = 31, latency_us = 100 }
    local err = ffi.new("int[1]")
    local s = C.tl_connect(p.st, core.ip("10.0.0.1"), 80, 0, p:now(), err)
    local syn = assert(p:expect(1000))
    icmp(p, 3, 3, 0, syn.raw)
    p:collect(1000)
    assert.are.equal(C.TL_EUNREACH, C.tl_sock_error(s))
  end)

  it("records a host unreachable on an established connection as a soft error only", function()
    local p = pkt.peer { seed = 33, latency_us = 100 }
    local s = p:handshake(p:listen(7, 4), { sport = 1001, dport = 7, seq = 100, mss = 1460 })
    C.tl_send(s, "data", 4, p:now())
    local seg = assert(p:expect(1000))
    icmp(p, 3, 1, 0, seg.raw)
    p:collect(1000)
    local i = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, i)
    assert.are.equal(C.TL_ESTABLISHED, C.tl_sock_state(s))
    assert.are.equal(C.TL_EUNREACH, i.last_error)
    assert.are.equal(0, C.tl_sock_error(s))
    assert.are.equal(1, core.stats(p.st).tcp_icmp_soft)
  end)

  it("lowers the MSS on fragmentation-needed and resends in smaller segments", function()
    local p = pkt.peer { seed = 32, latency_us = 100 }
    local s = p:handshake(p:listen(7, 4), { sport = 1000, dport = 7, seq = 100, mss = 1460 })
    local data = string.rep("d", 1460)
    C.tl_send(s, data, #data, p:now())
    local seg = assert(p:expect(1000))
    assert.are.equal(1460, #seg.data)
    -- a quote whose sequence number is not in flight is ignored (RFC 5927 4.1)
    local stale = seg.raw:sub(1, 24) .. string.char(0, 0, 0, 0) .. seg.raw:sub(29)
    icmp(p, 3, 4, 1000, stale)
    assert.is_nil(p:expect(1000))
    icmp(p, 3, 4, 1000, seg.raw)
    local segs = p:collect(1000)
    assert.are.equal(2, #segs)
    assert.are.equal(960, #segs[1].data)
    local i = ffi.new("tl_tcp_info")
    C.tl_sock_info(s, i)
    assert.are.equal(960, i.snd_mss)
    assert.are.equal(1000, i.pmtu)
  end)

  it("tries the first-hop MTU again ten minutes after a decrease (RFC 1191 6.3)", function()
    local p = pkt.peer { seed = 33, latency_us = 100 }
    local s = p:handshake(p:listen(7, 4), { sport = 1001, dport = 7, seq = 100, mss = 1460 })
    C.tl_setopt(s, C.TL_OPT_NODELAY, 1)
    local data = string.rep("d", 1460)
    -- sends one 1460-byte message; returns its segments' sizes once acknowledged
    local function round()
      C.tl_send(s, data, #data, p:now())
      local sizes = {}
      for _, seg in ipairs(p:collect(1000)) do sizes[#sizes + 1] = #seg.data end
      p:send { sport = 1001, dport = 7, seq = 101, ack = tonumber(pkt.info(s).snd_nxt), flags = ".", win = 65535 }
      p:collect(1000)
      return sizes
    end
    C.tl_send(s, data, #data, p:now())
    icmp(p, 3, 4, 1000, assert(p:expect(1000)).raw)
    p:collect(1000)
    p:send { sport = 1001, dport = 7, seq = 101, ack = tonumber(pkt.info(s).snd_nxt), flags = ".", win = 65535 }
    p:collect(1000)
    assert.are.equal(1000, pkt.info(s).pmtu)
    -- nine minutes on, an ACK leaves the estimate alone
    p:collect(540e6)
    assert.are.same({ 960, 500 }, round())
    assert.are.equal(1000, pkt.info(s).pmtu)
    -- past ten minutes, the next ACK restores the first-hop MTU and full segments
    p:collect(61e6)
    assert.are.same({ 960, 500 }, round())
    assert.are.equal(1500, pkt.info(s).pmtu)
    assert.are.equal(1460, pkt.info(s).snd_mss)
    assert.are.equal(1, core.stats(p.st).tcp_pmtu_raise)
    assert.are.same({ 1460 }, round())
  end)
end)
