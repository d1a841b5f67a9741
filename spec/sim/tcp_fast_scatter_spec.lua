-- Scatter output (tl_stack_set_output_vec): with it the stack hands a TSO
-- super-segment to the link as its headers plus the send ring's spans,
-- with no payload copy, and every other datagram in its own buffer with
-- headroom in front. What reaches the wire must not change: the same
-- seeded run, once through the plain tl_output_fn and once through a
-- scatter output that gathers the pieces, must emit the same bytes.
-- Data lent with tl_send_ref (zero-copy) goes out as spans of the lender's
-- buffers, and what is unacknowledged at tl_close is copied in first.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local pkt = require "helpers.tcppkt"

local PORT, ISS, SPORT = 80, 9000, 5000
local RING = 100000 -- fixed send ring, not a multiple of any segment size: spans wrap
local TOTAL = 600000

-- One seeded run: handshake, then fill the ring, let the stack send, and
-- acknowledge all but the last 3000 bytes received, so the ring never
-- drains and its writes wrap. Returns every datagram the peer received,
-- and what the scatter output saw (nil without one).
-- opts.lend: queue the data with tl_send_ref from separate buffers of
-- 1 to 9000 bytes (every fifth one copied with tl_send instead; all of
-- them with opts.copy, the same writes without lending);
-- opts.close_at: tl_close once that many bytes are queued, then overwrite
-- every lent buffer (the stack must have kept its own copy).
local function run(scatter, opts)
  opts = opts or {}
  local p = pkt.peer {
    seed = 77,
    latency_us = 100,
    config = function(cfg)
      cfg.tso_max = 65535
      cfg.tcp_sndbuf = RING
      cfg.tcp_sndbuf_max = 0
    end,
  }
  local seen, cb
  if scatter then
    seen = { calls = 0, by_pieces = setmetatable({}, { __index = function() return 0 end }), headroom_ok = true }
    cb = ffi.cast("tl_output_vec_fn", function(_, iov, n, len)
      seen.calls = seen.calls + 1
      seen.by_pieces[n] = seen.by_pieces[n] + 1
      -- the headroom in front of iov[0] is the link's: scribble on it
      ffi.fill(ffi.cast("uint8_t *", iov[0].base) - C.TL_OUT_HEADROOM, C.TL_OUT_HEADROOM, 0xa5)
      local parts = {}
      for i = 0, n - 1 do parts[#parts + 1] = ffi.string(iov[i].base, iov[i].len) end
      local bytes = table.concat(parts)
      assert(#bytes == tonumber(len), "iov lengths do not add up to len")
      C.tl_sim_send(p.sim, p.ep, bytes, #bytes)
      return 0
    end)
    C.tl_stack_set_output_vec(p.st, cb, nil)
  end
  local l = p:listen(PORT, 4)
  local got = {}
  local function take(segs)
    for _, g in ipairs(segs) do got[#got + 1] = g end
  end
  p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460, wscale = 7, sackok = true }
  local sa = assert(p:expect(10000))
  got[#got + 1] = sa
  p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = sa.seq + 1, flags = ".", win = 65535 }
  take(p:collect(1000))
  local s = assert(C.tl_accept(l))
  local data = {}
  for i = 1, TOTAL / 8 do data[i] = string.format("%08x", i) end
  data = table.concat(data)
  local chunks = {}
  if opts.lend then
    math.randomseed(78)
    local off = 0
    while off < #data do
      local n = math.min(math.random(1, 9000), #data - off)
      local b = ffi.new("uint8_t[?]", n)
      ffi.copy(b, data:sub(off + 1, off + n), n)
      chunks[#chunks + 1] = { buf = b, off = off, len = n, copy = #chunks % 5 == 4 }
      off = off + n
    end
  end
  local function queue(queued)
    if not opts.lend then
      return tonumber(C.tl_send(s, ffi.cast("const uint8_t *", data) + queued, #data - queued, p:now()))
    end
    local total = 0
    for _, c in ipairs(chunks) do
      if queued < c.off + c.len and queued + total >= c.off then
        local from = queued + total - c.off
        local send = (c.copy or opts.copy) and C.tl_send or C.tl_send_ref
        local n = tonumber(send(s, c.buf + from, c.len - from, p:now()))
        total = total + math.max(n, 0)
        if n < c.len - from then break end
      end
    end
    return total
  end
  local queued, top, closed = 0, sa.seq + 1, false
  for _ = 1, 400 do
    if queued < #data and not closed then
      local n = queue(queued)
      if n > 0 then queued = queued + n end
      if opts.close_at and queued >= opts.close_at then
        C.tl_close(s, p:now())
        closed = true
        for _, c in ipairs(chunks) do ffi.fill(c.buf, c.len, 0x21) end
        data = data:sub(1, queued)
      end
    end
    local segs = p:collect(2000)
    take(segs)
    for _, g in ipairs(segs) do
      local e = (g.seq + #g.data) % 4294967296
      if (e - top) % 4294967296 < 2147483648 then top = e end
    end
    local ack = (top - 3000) % 4294967296
    if queued == #data and (top - sa.seq - 1) % 4294967296 >= #data then ack = top end
    p:send { sport = SPORT, dport = PORT, seq = ISS + 1, ack = ack, flags = ".", win = 65535 }
    if ack == top and queued == #data and (not closed or top == (sa.seq + 2 + #data) % 4294967296) then break end
  end
  take(p:collect(1000))
  if cb then
    C.tl_stack_set_output_vec(p.st, nil, nil)
    cb:free()
  end
  return got, seen, data, sa.seq + 1
end

-- The in-order stream the datagrams carry from base on.
local function stream_of(segs, base)
  local stream, nxt = {}, base
  for _, g in ipairs(segs) do
    if #g.data > 0 and g.seq == nxt then
      stream[#stream + 1] = g.data
      nxt = (nxt + #g.data) % 4294967296
    end
  end
  return table.concat(stream)
end

describe("scatter output (tl_stack_set_output_vec)", function()
  setup(function() jit.off() end) -- C calls back into Lua through the FFI
  teardown(function() jit.on() end)

  it("emits byte-identical datagrams to the plain output, super-segments straight from a wrapping ring", function()
    local plain = run(false)
    local vec, seen, data, base = run(true)
    -- the scatter path was taken, with the ring wrapping inside a segment
    assert.is_true(seen.calls > 0)
    assert.is_true(seen.by_pieces[2] > 0, "no super-segment went out as headers + one span")
    assert.is_true(seen.by_pieces[3] > 0, "no super-segment straddled the ring's wrap")
    assert.is_true(seen.by_pieces[1] > 0, "handshake and ACK-sized datagrams should go out whole")
    -- the same datagrams, byte for byte, in the same order
    assert.are.equal(#plain, #vec)
    local supers = 0
    for i = 1, #plain do
      assert.is_true(plain[i].raw == vec[i].raw, "datagram " .. i .. " differs")
      if #vec[i].raw > 1500 then supers = supers + 1 end
    end
    assert.is_true(supers > 0, "no TSO super-segment in the run")
    -- and the stream they carry is the one the application sent
    local stream = stream_of(vec, base)
    assert.are.equal(#data, #stream)
    assert.is_true(stream == data, "reassembled stream differs from what was sent")
  end)

  it("sends lent buffers (tl_send_ref) as spans of the lender's memory, the same bytes as copies", function()
    local plain = run(false, { lend = true, copy = true })
    local vec, seen, data, base = run(true, { lend = true })
    local many = 0
    for n, k in pairs(seen.by_pieces) do if n > 3 then many = many + k end end
    assert.is_true(many > 0, "no super-segment gathered from several lent buffers")
    assert.are.equal(#plain, #vec)
    for i = 1, #plain do assert.is_true(plain[i].raw == vec[i].raw, "datagram " .. i .. " differs") end
    assert.is_true(stream_of(vec, base) == data, "reassembled stream differs from what was sent")
  end)

  it("keeps its own copy of lent bytes at tl_close, so the lender may reuse its buffers", function()
    local vec, _, data, base = run(true, { lend = true, close_at = 250000 })
    assert.is_true(#data >= 250000)
    local stream = stream_of(vec, base)
    assert.are.equal(#data, #stream)
    assert.is_true(stream == data, "the stream changed when the lender overwrote its buffers")
    local fin = false
    for _, g in ipairs(vec) do if g.flags:find("F") then fin = true end end
    assert.is_true(fin, "no FIN after the queued data")
  end)

  it("falls back to the whole-datagram output while a segment hook is on", function()
    local p = pkt.peer { seed = 5, config = function(cfg) cfg.tso_max = 65535 end }
    local calls = 0
    local cb = ffi.cast("tl_output_vec_fn", function() calls = calls + 1; return 0 end)
    C.tl_stack_set_output_vec(p.st, cb, nil)
    assert.are.equal(0, C.tl_hook_enable(p.st, C.TL_HOOK_OUT))
    p:listen(PORT, 4)
    p:send { sport = SPORT, dport = PORT, seq = ISS, flags = "S", win = 65535, mss = 1460 }
    -- the SYN-ACK is held for the hooks; pass it on
    local held = 0
    for _ = 1, 10 do
      C.tl_sim_run(p.sim, p:now() + 1000)
      local h = C.tl_hook_next(p.st)
      if h ~= nil then
        held = held + 1
        C.tl_hook_release(p.st, h, 1, 0, nil, p:now())
        break
      end
    end
    assert.are.equal(1, held)
    local sa = p:expect(10000)
    C.tl_stack_set_output_vec(p.st, nil, nil)
    cb:free()
    assert.is_truthy(sa)
    assert.are.equal("S.", sa.flags)
    assert.are.equal(0, calls)
  end)
end)
