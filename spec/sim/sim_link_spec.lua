-- The sim link itself: routing by destination, latency, FIFO order at
-- equal times, early stop, impairment per sender, determinism and volume.
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi

local A, B, Z = P.addr("10.0.0.1"), P.addr("10.0.0.2"), P.addr("10.0.0.99")

local function two_raw(latency, seed)
  local sim = ffi.gc(C.tl_sim_new(seed or 1, latency), C.tl_sim_free)
  return sim, C.tl_sim_add_raw(sim, A), C.tl_sim_add_raw(sim, B)
end

local function msg(i, dst) return P.datagram({ src = "10.0.0.1", dst = dst or B, proto = 17, id = i }, tostring(i)) end

describe("sim link", function()
  it("routes by destination after the base latency and stops when a packet is waiting", function()
    local sim, a, b = two_raw(5000)
    P.send(sim, a, msg(1))
    assert.are.equal(1, C.tl_sim_run(sim, 1000000))
    assert.are.equal(5000, tonumber(C.tl_sim_now(sim)))
    assert.is_nil(P.recv(sim, a))
    assert.are.equal("1", P.parse(P.recv(sim, b)).payload)
    assert.are.equal(1, tonumber(C.tl_sim_delivered(sim)))
    -- nothing left: runs to the end
    assert.are.equal(0, C.tl_sim_run(sim, 1000000))
    assert.are.equal(1000000, tonumber(C.tl_sim_now(sim)))
  end)

  it("drops what nobody owns, and runts, and counts them", function()
    local sim, a, b = two_raw(0)
    P.send(sim, a, msg(1, Z))
    P.send(sim, a, "short")
    C.tl_sim_send(sim, 99, "x", 1)
    assert.are.equal(0, C.tl_sim_run(sim, 1000))
    assert.are.equal(3, tonumber(C.tl_sim_dropped(sim)))
    assert.is_nil(P.recv(sim, b))
  end)

  it("keeps send order among packets due at the same time", function()
    local sim, a, b = two_raw(100)
    for i = 1, 500 do P.send(sim, a, msg(i)) end
    C.tl_sim_run(sim, 1000)
    local got = P.recv_all(sim, b)
    assert.are.equal(500, #got)
    for i, s in ipairs(got) do assert.are.equal(tostring(i), P.parse(s).payload) end
  end)

  it("applies a sender's impairment only to what it sends", function()
    local sim, a, b = two_raw(0, 5)
    C.tl_sim_impair(sim, a, ffi.new("tl_impair_config", { loss = 0.5 }))
    for i = 1, 1000 do
      P.send(sim, a, msg(i))
      P.send(sim, b, msg(i, A))
    end
    C.tl_sim_run(sim, 10)
    local to_b, to_a = #P.recv_all(sim, b), #P.recv_all(sim, a)
    assert.are.equal(1000, to_a)
    assert.is_true(to_b > 400 and to_b < 600, "a->b delivered " .. to_b)
    assert.are.equal(1000 - to_b, tonumber(C.tl_sim_impair_count(sim, a, 2)))
    assert.are.equal(0, tonumber(C.tl_sim_impair_count(sim, b, 2)))
    -- impairment off again
    C.tl_sim_impair(sim, a, nil)
    for i = 1, 100 do P.send(sim, a, msg(i)) end
    C.tl_sim_run(sim, 20)
    assert.are.equal(100, #P.recv_all(sim, b))
  end)

  it("applies delay impairment on top of latency and wakes for it", function()
    local sim, a, b = two_raw(1000)
    C.tl_sim_impair(sim, -1, ffi.new("tl_impair_config", { delay_us = 4000 }))
    P.send(sim, a, msg(1))
    assert.are.equal(1, C.tl_sim_run(sim, 1000000))
    assert.are.equal(5000, tonumber(C.tl_sim_now(sim)))
    assert.is_not_nil(P.recv(sim, b))
  end)

  it("runs a stack's timers on the virtual clock", function()
    local sim = ffi.gc(C.tl_sim_new(1, 0), C.tl_sim_free)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    cfg.reasm_timeout_us = 3000000
    local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
    local raw = C.tl_sim_add_raw(sim, P.addr("10.77.0.1"))
    -- the second half of a datagram: its timer is the stack's only deadline
    P.send(sim, raw, P.datagram({ proto = 17, off = 8, id = 1 }, "12345678"))
    assert.are.equal(0, C.tl_sim_run(sim, 2999999))
    assert.are.equal(1, C.tl_ipv4_reasm_pending(st))
    assert.are.equal(0, C.tl_sim_run(sim, 3000000))
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
  end)

  it("is deterministic for a seed", function()
    local function trace(seed)
      local sim, a, b = two_raw(300, seed)
      C.tl_sim_impair(sim, -1, ffi.new("tl_impair_config",
        { loss = 0.1, duplicate = 0.05, reorder = 0.1, jitter_us = 200, delay_us = 500 }))
      local t = {}
      for i = 1, 300 do P.send(sim, a, msg(i)) end
      while C.tl_sim_run(sim, 1000000) == 1 do
        for _, s in ipairs(P.recv_all(sim, b)) do t[#t + 1] = P.parse(s).payload .. "@" .. tonumber(C.tl_sim_now(sim)) end
      end
      return table.concat(t, " ")
    end
    assert.are.equal(trace(77), trace(77))
    assert.are_not.equal(trace(77), trace(78))
  end)

  it("moves a million packets, every one delivered", function()
    local sim, a, b = two_raw(1000)
    local s = msg(1)
    local n = 0
    for round = 1, 1000 do
      for _ = 1, 1000 do P.send(sim, a, s) end
      C.tl_sim_run(sim, round * 1000 + 1000)
      while P.recv(sim, b) do n = n + 1 end
    end
    assert.are.equal(1000000, n)
    assert.are.equal(1000000, tonumber(C.tl_sim_delivered(sim)))
  end)
end)
