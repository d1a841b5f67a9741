-- TSO deferral (core/tcp/tcp_output.c:send_data, as Linux tcp_tso_should_defer):
-- with a whole super-segment in flight, the sender waits for the next ACK
-- rather than hand the link a partial super-segment, so each write to the
-- TUN carries as much as it can; and it never stalls for it.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT = 80, 9000, 5000

local function accepted()
  local p = pkt.peer { seed = 33, latency_us = 100, config = function(cfg) cfg.tso_max = 65535 end }
  local l = p:listen(PORT, 4)
  p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7, sackok = true }
  local sa = assert(p:expect(10000))
  p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
  p:collect(1000)
  return p, assert(C.tl_accept(l)), sa.seq + 1
end

describe("TSO deferral", function()
  it("sends full super-segments while ACKs free the window in small steps, and delivers every byte", function()
    local p, s, base = accepted()
    local mss = pkt.info(s).snd_mss
    local max = math.floor((65535 - 20 - 60) / mss) * mss
    local data = string.rep("0123456789abcdef", 2 * 1024 * 1024 / 16) -- 2 MB
    local queued, top, acked = 0, base, base
    local sizes, stream = {}, {}
    for _ = 1, 2000 do
      if queued < #data then
        local n = tonumber(C.tl_send(s, ffi.cast("const uint8_t *", data) + queued, #data - queued, p:now()))
        if n > 0 then queued = queued + n end
      end
      local segs = p:collect(1000)
      for _, g in ipairs(segs) do
        if #g.data > 0 and g.seq == top then
          sizes[#sizes + 1] = #g.data
          stream[#stream + 1] = g.data
          top = (top + #g.data) % 4294967296
        end
      end
      -- ACK 8 KB at a time: each ACK alone frees far less than a super-segment
      if acked ~= top then
        local gap = (top - acked) % 4294967296
        acked = (acked + math.min(gap, 8192)) % 4294967296
        p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = acked, flags = ".", win = 65535 }
      elseif queued == #data then
        break
      end
    end
    stream = table.concat(stream)
    assert.are.equal(#data, #stream)
    assert.is_true(stream == data)
    -- slow start sends what cwnd allows; from the first full super-segment
    -- on (the window then holds more than one), only the tail is partial
    local first
    for i, n in ipairs(sizes) do
      if n == max then first = first or i end
    end
    assert.is_truthy(first, "no full super-segment: " .. table.concat(sizes, ","))
    local partial = {}
    for i = first, #sizes - 1 do
      if sizes[i] ~= max then partial[#partial + 1] = sizes[i] end
    end
    assert.is_true(#sizes - first >= 20, (#sizes - first) .. " super-segments after the first full one")
    assert.are.same({}, partial)
  end)

  -- A peer that ACKs every two segments, one lost round to end slow start,
  -- then rounds of 4 ms; returns cwnd after each round.
  local function ca_rounds(tso, n)
    local p = pkt.peer { seed = 33, latency_us = 2000, config = function(cfg) if tso then cfg.tso_max = 65535 end end }
    local l = p:listen(PORT, 4)
    p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7 }
    local sa = assert(p:expect(100000))
    local rcv, acked = sa.seq + 1, sa.seq + 1
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = rcv, flags = ".", win = 65535 }
    p:collect(10000)
    local s = assert(C.tl_accept(l))
    local data = ffi.new("uint8_t[?]", 1048576)
    local cwnd = {}
    for r = 1, n do
      C.tl_send(s, data, 1048576, p:now())
      for _, g in ipairs(p:collect(4000)) do
        local d = (rcv - g.seq) % 4294967296
        if #g.data > 0 and r ~= 8 and r ~= 9 and d < 2 ^ 31 and d < #g.data then rcv = (g.seq + #g.data) % 4294967296 end
      end
      while acked ~= rcv do
        acked = (acked + math.min((rcv - acked) % 4294967296, 2920)) % 4294967296
        p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = acked, flags = ".", win = 65535 }
      end
      cwnd[r] = pkt.info(s).cwnd
    end
    assert.is_true(pkt.info(s).ssthresh < 2 ^ 31, "the lost round ended slow start")
    return cwnd
  end

  it("still counts as window-limited while it defers, so cwnd grows as without TSO (RFC 7661)", function()
    local plain, tso = ca_rounds(false, 320), ca_rounds(true, 320)
    local grew_plain, grew_tso = plain[320] - plain[200], tso[320] - tso[200]
    assert.is_true(grew_plain > 0, "cwnd grows without TSO: " .. grew_plain)
    assert.is_true(grew_tso >= 0.7 * grew_plain,
      ("cwnd growth over rounds 200-320: %d with TSO, %d without"):format(grew_tso, grew_plain))
  end)

  it("does not hold the application's last bytes for the next ACK", function()
    local p = pkt.peer { seed = 3, latency_us = 5000, config = function(cfg) cfg.tso_max = 65535 end }
    local l = p:listen(PORT, 4)
    p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7 }
    local sa = assert(p:expect(100000))
    local rcv = sa.seq + 1
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = rcv, flags = ".", win = 65535 }
    p:collect(20000)
    local s = assert(C.tl_accept(l))
    local data = ffi.new("uint8_t[?]", 1000000)
    local sent = 0
    for _ = 1, 40 do -- grow cwnd past one super-segment plus the tail
      if sent < 1000000 then sent = sent + tonumber(C.tl_send(s, data, 1000000 - sent, p:now())) end
      for _, g in ipairs(p:collect(10000)) do
        if #g.data > 0 and g.seq == rcv then rcv = (g.seq + #g.data) % 4294967296 end
      end
      p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = rcv, flags = ".", win = 65535 }
    end
    p:collect(20000)
    assert.is_true(pkt.info(s).cwnd >= 70000, "cwnd " .. pkt.info(s).cwnd)
    assert.are.equal(70000, tonumber(C.tl_send(s, data, 70000, p:now())))
    local got = 0
    for _, g in ipairs(p:collect(8000)) do got = got + #g.data end -- less than the 10 ms RTT
    assert.are.equal(70000, got)
  end)
end)
