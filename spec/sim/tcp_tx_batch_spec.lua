-- Sends queued while the application runs (tl_stack_batch TL_BATCH_TX, set by the host
-- around each Lua step) on a connection with a whole TSO super-segment in
-- flight wait for the stack's next poll, which sends them together: the
-- writes of one step fill whole super-segments instead of each leaving on
-- its own. With less in flight a write leaves at once, as without a batch.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT = 80, 7000, 4100
local MOD = 4294967296

-- An established connection (TSO on, nodelay) that has sent `total` bytes,
-- acknowledged until cwnd is large, then up to all but `inflight` bytes.
-- Returns the peer, the socket and the sequence number of the next byte.
local function busy(inflight)
  local p = pkt.peer { seed = 13, config = function(cfg) cfg.tso_max = 65535 end }
  local l = p:listen(PORT)
  local s, sa = p:handshake(l, { sport = SPORT, dport = PORT, seq = ISS, mss = 1460, wscale = 7 })
  assert.are.equal(0, C.tl_setopt(s, C.TL_OPT_NODELAY, 1))
  local total = 2000000
  local data = string.rep("b", total)
  local queued, top = 0, (sa.seq + 1) % MOD
  local function ack(to)
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = to, flags = ".", win = 65535 }
  end
  -- Every MSS acknowledged on its own, so that slow start (RFC 3465 byte
  -- counting, at most 2 MSS per ACK) opens cwnd quickly.
  for _ = 1, 400 do
    if queued < total then
      local n = tonumber(C.tl_send(s, ffi.cast("const uint8_t *", data) + queued, total - queued, p:now()))
      if n > 0 then queued = queued + n end
    end
    local segs = p:collect(1000)
    if #segs == 0 and queued == total then break end
    for _, g in ipairs(segs) do
      local e = (g.seq + #g.data) % MOD
      if (e - top) % MOD < 2 ^ 31 then top = e end
      -- up to all but the last `inflight` bytes
      local function upto(x) if (x - sa.seq - 1) % MOD <= total - inflight then ack(x) end end
      if #g.data > 0 then
        for off = 1460, #g.data - 1, 1460 do upto((g.seq + off) % MOD) end -- as a receiver of the MSS pieces would
        upto(e)
      end
    end
  end
  assert.are.equal(total, (top - sa.seq - 1) % MOD, "not all sent")
  assert.is_true(pkt.info(s).cwnd > 2 * 65536, "cwnd stayed small")
  ack((top - inflight) % MOD)
  p:collect(1000)
  assert.are.equal(inflight, pkt.info(s).unacked)
  return p, s, top
end

-- 100 one-byte writes (in a batch or not); returns the number of
-- datagrams the stack emitted during the writes themselves, and the data
-- segments the peer then receives.
local function hundred_writes(p, s, batch)
  local before = p:stats().tcp_out
  if batch then C.tl_stack_batch(p.st, C.TL_BATCH_TX) end
  for i = 1, 100 do
    assert.are.equal(1, tonumber(C.tl_send(s, string.char(64 + i % 26), 1, p:now())))
  end
  if batch then C.tl_stack_batch(p.st, 0) end
  local during = p:stats().tcp_out - before
  local segs = {}
  for _, g in ipairs(p:collect(1000)) do
    if #g.data > 0 then segs[#segs + 1] = g end
  end
  return during, segs
end

local function expected()
  local t = {}
  for i = 1, 100 do t[i] = string.char(64 + i % 26) end
  return table.concat(t)
end

describe("sends batched while the application runs (TL_BATCH_TX)", function()
  it("without a batch, 100 one-byte writes with nodelay leave as they come", function()
    local p, s = busy(70000)
    local during, segs = hundred_writes(p, s, false)
    assert.are.equal(100, during)
    assert.are.equal(100, #segs)
  end)

  it("in a batch, with a super-segment in flight, they leave together at the next poll", function()
    local p, s, top = busy(70000)
    local during, segs = hundred_writes(p, s, true)
    assert.are.equal(0, during)
    assert.are.equal(1, #segs)
    assert.are.equal(top, segs[1].seq)
    assert.are.equal(expected(), segs[1].data)
  end)

  it("in a batch, with less than a super-segment in flight, they still leave at once", function()
    local p, s = busy(20000)
    local during, segs = hundred_writes(p, s, true)
    assert.are.equal(100, during)
    assert.are.equal(100, #segs)
  end)
end)
