-- TSO deferral (core/tcp_output.c:send_data, as Linux tcp_tso_should_defer):
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
    assert.is_true(#sizes - first >= 25, (#sizes - first) .. " super-segments after the first full one")
    assert.are.same({}, partial)
  end)
end)
