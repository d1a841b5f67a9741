-- Memory per connection (issue 5): an idle established connection costs its
-- control block and a share of the 4-tuple table, under 1 KB; the send and
-- receive rings hold storage only while data flows, and a short exchange
-- holds a few KB of it, not the rings' capacity.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi
local tcpsim = require "helpers.tcpsim"

local N = tonumber(os.getenv("IDLE_MEMORY_SPEC_CONNS") or "") or 10000
local BATCH = 250 -- connections opened at a time: the sim's packet pool stays small

-- glibc's count of bytes malloc has handed out (chunk headers included):
-- the C memory of the process, which the Lua heap (LuaJIT's own allocator)
-- is not part of.
pcall(ffi.cdef, [[
struct tl_spec_mallinfo2 { size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost; };
struct tl_spec_mallinfo2 mallinfo2(void);
]])
local function c_heap()
  local ok, m = pcall(function() return C.mallinfo2() end)
  if not ok then return nil end
  return tonumber(m.uordblks) + tonumber(m.hblkhd)
end

local function mem(w) return tonumber(C.tl_tcp_mem_bytes(w.a)) + tonumber(C.tl_tcp_mem_bytes(w.b)) end
local function rings(st) return tonumber(C.tl_tcp_ring_bytes(st)) end

-- n connections a -> b:port, accepted; returns the client and server sockets.
local function open(w, l, port, n)
  local cs, ss = {}, {}
  for first = 1, n, BATCH do
    local last = math.min(n, first + BATCH - 1)
    for k = first, last do cs[k] = w:connect(w.a, w.addr_b, port) end
    local k = first
    assert.is_true(w:run_until(function()
      while k <= last do
        local s = C.tl_accept(l)
        if s == nil then return false end
        ss[k], k = s, k + 1
      end
      return true
    end, 60e6), "connections " .. first .. "-" .. last .. " not accepted")
  end
  return cs, ss
end

-- One request/response of `q` and `r` over every pair, to completion.
local buf = ffi.new("uint8_t[16]")
local function exchange(w, cs, ss, q, r)
  for k = 1, #cs do assert.are.equal(#q, w:send(cs[k], q)) end
  local k = 1
  assert.is_true(w:run_until(function()
    while k <= #ss and C.tl_readable(ss[k]) >= #q do
      assert.are.equal(#q, tonumber(C.tl_recv(ss[k], buf, 16, w:now())))
      assert.are.equal(#r, w:send(ss[k], r))
      k = k + 1
    end
    return k > #ss
  end, 10e6), "requests not all answered")
  k = 1
  assert.is_true(w:run_until(function()
    while k <= #cs and C.tl_readable(cs[k]) >= #r do
      assert.are.equal(#r, tonumber(C.tl_recv(cs[k], buf, 16, w:now())))
      k = k + 1
    end
    return k > #cs
  end, 10e6), "responses not all read")
end

describe("memory per connection", function()
  it("keeps the control block under 640 bytes", function()
    assert.is_true(C.tl_tcp_sock_size() <= 640, "TCB is " .. tonumber(C.tl_tcp_sock_size()) .. " bytes")
  end)

  it("holds " .. N .. " idle established connections in under 680 bytes of C memory each", function()
    local w = tcpsim.pair { seed = 51 }
    local l = w:listen(w.b, 80, 65535)
    -- warm-up: the sim's packet pool and both stacks' first allocations
    local wc, ws = open(w, l, 80, BATCH)
    for k = 1, #wc do C.tl_abort(wc[k], w:now()); C.tl_abort(ws[k], w:now()) end
    w:advance(1e6)
    collectgarbage()
    local heap0, mem0 = c_heap(), mem(w)

    local cs, ss = open(w, l, 80, N)
    w:advance(2e6) -- delayed ACKs of the handshakes run out
    for k = 1, N, 997 do
      assert.are.equal("ESTABLISHED", w:state(cs[k]))
      assert.are.equal("ESTABLISHED", w:state(ss[k]))
    end
    assert.are.equal(N, C.tl_tcp_conn_count(w.b))
    assert.are.equal(0, rings(w.a) + rings(w.b), "an idle connection holds no ring storage")

    -- both ends of each connection are ours: 2N control blocks
    local per = (mem(w) - mem0) / (2 * N)
    local heap = c_heap()
    local per_heap = heap and (heap - heap0) / (2 * N)
    print(("    C memory per idle connection: %d B TCB, %.0f B counted by the stack, %s B from malloc (N=%d)"):format(
      tonumber(C.tl_tcp_sock_size()), per, per_heap and ("%.0f"):format(per_heap) or "?", N))
    assert.is_true(per <= 660, ("%.0f B per connection counted by the stack"):format(per))
    if per_heap then
      assert.is_true(per_heap <= 680, ("%.0f B per connection from malloc"):format(per_heap))
    end

    -- A 1-byte request and response on every connection: each ring takes
    -- the smallest storage, not its 256 KB capacity. The second exchange
    -- keeps the drained storage for the next message (tcp_buf.c).
    local cap = C.tl_stack_config(w.a).tcp_rcvbuf
    exchange(w, cs, ss, "q", "r")
    if per_heap then
      -- one message each way: the first drain frees each ring at once,
      -- and RACK's transmit log (tcp_rack.c, ~900 B) goes with the send
      -- ring; ~150 B of other heap stays (as with RACK off)
      w:advance(1e6)
      collectgarbage()
      local after = (c_heap() - heap0) / (2 * N)
      assert.is_true(after - per_heap <= 300,
        ("%.0f B per connection from malloc after one exchange, %.0f before"):format(after, per_heap))
    end
    exchange(w, cs, ss, "q", "r")
    local ra, rb = rings(w.a) / N, rings(w.b) / N
    print(("    ring storage per connection while active: client %.0f B, server %.0f B (capacity %d B each)"):format(
      ra, rb, tonumber(cap)))
    assert.is_true(ra > 0 and rb > 0, "a recurring exchange keeps its storage")
    assert.is_true(ra <= 8192 and rb <= 8192, ("%.0f / %.0f B of ring storage per connection"):format(ra, rb))

    -- idle again: the storage goes after tcp_buf_hold_us
    w:advance(C.tl_stack_config(w.a).tcp_buf_hold_us + 1e6)
    assert.are.equal(0, rings(w.a) + rings(w.b))
    assert.is_true((mem(w) - mem0) / (2 * N) <= 660)
    -- and what the stack does not count is gone too: RACK's transmit log
    -- (tcp_rack.c, about 900 B with its records) goes with the send
    -- buffer. (The exchanges leave ~150 B per connection of other heap,
    -- the same with RACK off.)
    if per_heap then
      collectgarbage()
      local after = (c_heap() - heap0) / (2 * N)
      assert.is_true(after - per_heap <= 300,
        ("%.0f B per idle connection from malloc after two exchanges, %.0f before"):format(after, per_heap))
    end
  end)

  it("keeps loss state (scoreboard, out-of-order set, undo) only while an episode lasts", function()
    for _, seed in ipairs({ 53, 54, 55 }) do
      local imp = { loss = 0.03, reorder = 0.03 }
      local w = tcpsim.pair { seed = seed, latency_us = 2000, impair_a = imp, impair_b = imp }
      local c, s = w:establish(80)
      local base = { a = C.tl_tcp_mem_bytes(w.a), b = C.tl_tcp_mem_bytes(w.b) }
      -- both directions lose and reorder: SACK recovery on each sender,
      -- out-of-order data on each receiver
      local data = tcpsim.bytes(1024 * 1024, seed)
      local got, fin = w:stream(c, s, data, 120e6)
      assert(fin and got == data, "seed " .. seed .. ": transfer incomplete")
      local sa, sb = core.stats(w.a), core.stats(w.b)
      assert.is_true(sa.tcp_fast_retrans > 0 and sb.tcp_ooo_segs > 0, "seed " .. seed .. ": no loss episode")
      assert.is_true(sa.tcp_loss_alloc + sb.tcp_loss_alloc > 0)
      assert.are.equal(0, sa.tcp_loss_nomem + sb.tcp_loss_nomem)
      -- the episode is over once everything is acknowledged: the loss state
      -- is gone and each side holds what it held before (rings drained)
      w:advance(C.tl_stack_config(w.a).tcp_buf_hold_us + 1e6)
      assert.are.equal("FIN-WAIT-2", w:state(c))
      assert.are.equal(base.a, C.tl_tcp_mem_bytes(w.a), "seed " .. seed .. ": sender")
      assert.are.equal(base.b, C.tl_tcp_mem_bytes(w.b), "seed " .. seed .. ": receiver")
      assert.are.equal(0, C.tl_tcp_loss_count(w.a) + C.tl_tcp_loss_count(w.b))
    end
  end)

  it("still delivers every byte when no loss state can be had (as without memory): NewReno, no SACK", function()
    for _, seed in ipairs({ 56, 57 }) do
      local imp = { loss = 0.02, reorder = 0.02 }
      local w = tcpsim.pair { seed = seed, latency_us = 2000, impair_a = imp, impair_b = imp }
      local c, s = w:establish(80)
      C.tl_tcp_set_loss_limit(w.a, 0)
      C.tl_tcp_set_loss_limit(w.b, 0)
      local data = tcpsim.bytes(512 * 1024, seed)
      local got, fin = w:stream(c, s, data, 300e6)
      assert(fin and got == data, "seed " .. seed .. ": transfer incomplete")
      local sa, sb = core.stats(w.a), core.stats(w.b)
      assert.are.equal(0, sa.tcp_loss_alloc + sb.tcp_loss_alloc)
      assert.is_true(sa.tcp_loss_nomem + sb.tcp_loss_nomem > 0, "seed " .. seed .. ": the limit was never hit")
      -- the sender recovered by fast retransmit without a scoreboard; the
      -- receiver dropped what came out of order, and the peer resent it
      assert.is_true(w:info(c).fast_retrans > 0, "seed " .. seed .. ": no fast retransmit")
      assert.is_true(sb.drop_tcp_ooo_overflow > 0)
      assert.are.equal(0, sb.tcp_ooo_segs)
    end
  end)
end)
