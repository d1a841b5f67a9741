-- When a writer blocked on a full send buffer is woken (TL_EV_WRITABLE):
-- once a third of the buffer, at most 64 KB, is free, not on every ACK
-- (as Linux's sk_stream_write_space), so that what it queues, and the
-- super-segments it makes, are large.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT = 80, 5000, 4000

-- A connection whose send buffer (fixed at `ring` bytes) is full; returns
-- the peer, the socket and the sequence number of its first data byte.
local function full(ring)
  local p = pkt.peer {
    seed = 9,
    config = function(cfg)
      cfg.tcp_sndbuf = ring
      cfg.tcp_sndbuf_max = 0
    end,
  }
  local l = p:listen(PORT)
  local s, sa = p:handshake(l, { sport = SPORT, dport = PORT, seq = ISS, mss = 1460, wscale = 7 })
  local data = string.rep("w", ring)
  local queued = 0
  while queued < ring do
    local n = tonumber(C.tl_send(s, ffi.cast("const uint8_t *", data) + queued, ring - queued, p:now()))
    assert(n > 0, "the buffer took less than its size")
    queued = queued + n
  end
  assert.are.equal(0, tonumber(C.tl_send(s, "x", 1, p:now())))
  p:collect(1000)
  p:events(s) -- forget what the handshake raised
  return p, s, sa.seq + 1
end

-- Acknowledges `step` more bytes at a time; returns how many bytes were
-- acknowledged (so free) when TL_EV_WRITABLE first came, and the writable
-- space then.
local function first_wake(p, s, base, step)
  for acked = step, 2000000, step do
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = (base + acked) % 2 ^ 32, flags = ".", win = 65535 }
    p:collect(500)
    if bit.band(p:events(s), C.TL_EV_WRITABLE) ~= 0 then return acked, tonumber(C.tl_writable(s)) end
  end
end

describe("waking a writer blocked on a full send buffer", function()
  it("waits until 64 KB are free in a large buffer, though each ACK frees one segment", function()
    local p, s, base = full(600000)
    local acked, space = first_wake(p, s, base, 1448)
    assert.is_truthy(acked, "never woken")
    assert.is_true(acked >= 65536 and acked < 65536 + 1448, "woken with " .. acked .. " bytes free")
    assert.is_true(space >= 65536)
  end)

  it("waits for a third of a small buffer", function()
    local p, s, base = full(30000)
    local acked = first_wake(p, s, base, 1000)
    assert.are.equal(10000, acked)
  end)
end)
