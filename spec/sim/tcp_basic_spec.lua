-- The TCP engine between two stacks on the sim link: handshake, data,
-- close, as a user of the C API sees them.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local tcpsim = require "helpers.tcpsim"

describe("tcp: two stacks", function()
  it("complete the three-way handshake (RFC 9293 3.5) and report it with events", function()
    local w = tcpsim.pair { seed = 1 }
    local l = w:listen(w.b, 80)
    local c = w:connect(w.a, w.addr_b, 80)
    assert.are.equal("SYN-SENT", w:state(c))
    assert.is_true(w:run_until(function() return w:state(c) == "ESTABLISHED" end, 5e6))
    assert.are_not.equal(0, bit.band(w:took(c), C.TL_EV_CONNECTED))
    w:run_until(function() return bit.band(w:took(l), C.TL_EV_ACCEPT) ~= 0 end, 1e6)
    local s = C.tl_accept(l)
    assert.is_true(s ~= nil, "nothing to accept")
    assert.are.equal("ESTABLISHED", w:state(s))
    local la, lp, ra, rp = ffi.new("uint32_t[1]"), ffi.new("uint16_t[1]"), ffi.new("uint32_t[1]"), ffi.new("uint16_t[1]")
    C.tl_sock_addrs(c, la, lp, ra, rp)
    assert.are.equal(w.addr_b, ra[0])
    assert.are.equal(80, rp[0])
    -- RFC 6335 6: ephemeral ports come from the dynamic range
    assert.is_true(lp[0] >= 49152 and lp[0] <= 65535)
  end)

  it("carry data both ways and close gracefully through TIME-WAIT", function()
    local w = tcpsim.pair { seed = 2, config = function(cfg) cfg.tcp_msl_us = 1e6 end }
    local c, s = w:establish(80)
    assert.are.equal(5, w:send(c, "hello"))
    assert.is_true(w:run_until(function() return C.tl_readable(s) == 5 end, 1e6))
    assert.are.equal("hello", (w:read(s)))
    assert.are.equal(5, w:send(s, "world"))
    assert.is_true(w:run_until(function() return C.tl_readable(c) == 5 end, 1e6))
    assert.are.equal("world", (w:read(c)))
    -- active close from the client
    C.tl_shutdown(c, w:now())
    assert.are.equal("FIN-WAIT-1", w:state(c))
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSE-WAIT" end, 1e6))
    local _, code = w:read(s)
    assert.are.equal(C.TL_ECLOSED, code)
    assert.is_true(w:run_until(function() return w:state(c) == "FIN-WAIT-2" end, 1e6))
    C.tl_shutdown(s, w:now())
    assert.are.equal("LAST-ACK", w:state(s))
    assert.is_true(w:run_until(function() return w:state(c) == "TIME-WAIT" end, 1e6))
    assert.is_true(w:run_until(function() return w:state(s) == "CLOSED" end, 1e6))
    assert.are.equal(0, C.tl_sock_error(s))
    -- TIME-WAIT lasts 2*MSL
    local t0 = w:now()
    assert.is_true(w:run_until(function() return w:state(c) == "CLOSED" end, 5e6))
    local waited = w:now() - t0
    assert.is_true(waited >= 2e6 - 2000 and waited <= 2e6 + 2000, "TIME-WAIT lasted " .. waited)
    C.tl_close(c, w:now())
    C.tl_close(s, w:now())
  end)
end)

describe("tcp: many connections", function()
  it("500 concurrent connections each get their own bytes back, and all are freed afterwards", function()
    local w = tcpsim.pair { seed = 3, config = function(cfg) cfg.tcp_msl_us = 1e6; cfg.tcp_backlog = 1024 end }
    local l = w:listen(w.b, 80)
    local N = 500
    local clients, servers, got = {}, {}, {}
    for i = 1, N do clients[i] = w:connect(w.a, w.addr_b, 80) end
    assert.are.equal(N, C.tl_tcp_conn_count(w.a))
    local ports = {}
    for i = 1, N do
      local lp = ffi.new("uint16_t[1]")
      C.tl_sock_addrs(clients[i], nil, lp, nil, nil)
      assert.is_nil(ports[lp[0]], "ephemeral port used twice")
      ports[lp[0]] = true
    end
    local sent = {}
    local function msg(i) return ("connection %d says hello"):format(i) end
    assert.is_true(w:run_until(function()
      w:accept_all(l, servers)
      for _, s in ipairs(servers) do   -- echo and close
        local d, code = w:read(s)
        if #d > 0 then w:send(s, d) end
        if code == C.TL_ECLOSED then C.tl_close(s, w:now()) end
      end
      local done = 0
      for i, c in ipairs(clients) do
        if not sent[i] and w:state(c) == "ESTABLISHED" then
          w:send(c, msg(i))
          C.tl_shutdown(c, w:now())
          sent[i] = true
        end
        local d = w:read(c)
        if #d > 0 then got[i] = (got[i] or "") .. d end
        if got[i] == msg(i) then done = done + 1 end
      end
      return done == N
    end, 60e6))
    for i = 1, N do C.tl_close(clients[i], w:now()) end
    assert.is_true(w:run_until(function()
      return C.tl_tcp_sock_count(w.a) == 0 and C.tl_tcp_sock_count(w.b) == 1
    end, 10e6), "connections left: " .. C.tl_tcp_sock_count(w.a) .. " / " .. C.tl_tcp_sock_count(w.b))
    assert.are.equal(0, C.tl_tcp_timer_count(w.a))
    assert.are.equal(0, C.tl_tcp_timer_count(w.b))
  end)

  it("keeps an idle connection's control block under 1 KB with no buffers held", function()
    assert.is_true(C.tl_tcp_sock_size() <= 1024, "TCB is " .. tostring(C.tl_tcp_sock_size()) .. " bytes")
    local w = tcpsim.pair { seed = 4 }
    local c, s = w:establish(80)
    w:send(c, "x")
    w:run_until(function() return C.tl_readable(s) == 1 end, 1e6)
    w:read(s)
    w:advance(1e6)
    local i = w:info(c)
    assert.are.equal(0, i.sndbuf_used)
    assert.are.equal(0, w:info(s).rcvbuf_used)
  end)
end)
