-- IPv4 reassembly (RFC 791/815): fragments in any order, duplicates,
-- conflicting overlaps, timeouts, caps. The carrier is an ICMP echo: a
-- byte-exact reply proves the datagram was rebuilt byte-exact.
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi

local PEER = P.addr("10.77.0.1")

local function setup(tweak)
  local sim = ffi.gc(C.tl_sim_new(3, 0), C.tl_sim_free)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  cfg.mtu = 9000
  if tweak then tweak(cfg) end
  local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
  local raw = C.tl_sim_add_raw(sim, PEER)
  return sim, st, raw
end

-- Deliver the strings, then collect whatever the stack sent back.
local function exchange(sim, raw, pkts)
  for _, s in ipairs(pkts) do P.send(sim, raw, s) end
  C.tl_sim_run(sim, C.tl_sim_now(sim) + 1)
  local t = {}
  for i, s in ipairs(P.recv_all(sim, raw)) do t[i] = P.parse(s) end
  return t
end

local function reply_data(parsed)
  if #parsed == 0 then return nil end
  local m = P.parse_icmp(assert(P.reassemble(parsed)))
  assert.are.equal(0, m.type)
  return m.data
end

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(1, i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

local function frags(id, data, chunk) return P.fragment({ proto = 1, id = id }, P.echo_request(5, id, data), chunk) end

describe("IPv4 reassembly", function()
  it("rebuilds fragments given in order and reversed", function()
    math.randomseed(1)
    local sim, st, raw = setup()
    local data = P.random_bytes(5000)
    assert.are.equal(data, reply_data(exchange(sim, raw, frags(1, data, 1000))))
    local r = frags(2, data, 800)
    local rev = {}
    for i = #r, 1, -1 do rev[#rev + 1] = r[i] end
    assert.are.equal(data, reply_data(exchange(sim, raw, rev)))
    local s = core.stats(st)
    assert.are.equal(2, s.ip_reasm_ok)
    assert.are.equal(#r + 6, s.ip_frag_in)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
    assert.are.equal(0, tonumber(C.tl_ipv4_reasm_bytes(st)))
  end)

  it("ignores exact duplicates", function()
    math.randomseed(2)
    local sim, st, raw = setup()
    local data = P.random_bytes(3000)
    local f = frags(3, data, 1000)
    local got = exchange(sim, raw, { f[1], f[1], f[2], f[2], f[4], f[3] })
    assert.are.equal(data, reply_data(got))
    assert.are.equal(2, core.stats(st).ip_reasm_dup)
  end)

  it("discards the datagram when fragments overlap with different data", function()
    math.randomseed(3)
    local sim, st, raw = setup()
    local data = P.random_bytes(3000)
    local f = frags(4, data, 1000)
    -- a forged piece covering the middle of the first two fragments
    local evil = P.datagram({ proto = 1, id = 4, off = 504, mf = true }, string.rep("E", 1000))
    assert.are.same({}, exchange(sim, raw, { f[1], evil, f[2], f[3], f[4] }))
    local s = core.stats(st)
    assert.are.equal(1, s.drop_reasm_overlap)
    -- the pieces after the discard start a new datagram that never completes
    assert.are.equal(0, s.ip_reasm_ok)
    -- partial overlap with identical bytes is an overlap too (not a duplicate)
    local sim2, st2, raw2 = setup()
    local whole = P.echo_request(5, 9, data)
    local g = frags(9, data, 1000)
    local shifted = P.datagram({ proto = 1, id = 9, off = 512, mf = true }, whole:sub(513, 1512))
    assert.are.same({}, exchange(sim2, raw2, { g[1], shifted }))
    assert.are.equal(1, core.stats(st2).drop_reasm_overlap)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st2))
  end)

  it("rejects bad lengths: unaligned middle fragment, past the end, over 65535", function()
    local sim, st, raw = setup()
    local unaligned = P.datagram({ proto = 1, id = 20, off = 0, mf = true }, string.rep("a", 100))
    local too_big = P.datagram({ proto = 1, id = 21, off = 65528, mf = false }, string.rep("b", 16))
    exchange(sim, raw, { unaligned, too_big })
    local s = core.stats(st)
    assert.are.equal(1, s.drop_reasm_bad_len)
    assert.are.equal(1, s.drop_reasm_too_big)
    -- a fragment beyond the last one's end discards the datagram
    local last = P.datagram({ proto = 1, id = 22, off = 800, mf = false }, string.rep("c", 8))
    local beyond = P.datagram({ proto = 1, id = 22, off = 1600, mf = true }, string.rep("d", 8))
    exchange(sim, raw, { last, beyond })
    assert.are.equal(2, core.stats(st).drop_reasm_bad_len)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
    -- each piece fits, but fragment zero's 40 bytes of options make the
    -- whole 65555 bytes: more than a datagram can be
    local first = P.datagram({ proto = 1, id = 23, mf = true, options = string.rep("\1", 40) }, string.rep("e", 32768))
    local rest = P.datagram({ proto = 1, id = 23, off = 32768 }, string.rep("f", 65535 - 20 - 32768))
    assert.are.same({}, exchange(sim, raw, { first, rest }))
    assert.are.equal(2, core.stats(st).drop_reasm_too_big)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
  end)

  it("expires an incomplete datagram, frees it and sends time exceeded only if fragment zero came", function()
    local sim, st, raw = setup(function(c) c.reasm_timeout_us = 2000000 end)
    local data = string.rep("z", 3000)
    local f = frags(30, data, 1000)
    local g = frags(31, data, 1000)
    assert.are.same({}, exchange(sim, raw, { f[1], f[2], g[2], g[3] }))
    assert.are.equal(2, C.tl_ipv4_reasm_pending(st))
    assert.is_true(tonumber(C.tl_ipv4_reasm_bytes(st)) > 0)
    assert.are.equal(2000000, tonumber(C.tl_stack_deadline(st)))
    assert.are.equal(1, C.tl_sim_run(sim, 10000000))
    assert.are.equal(2000000, tonumber(C.tl_sim_now(sim)))
    local got = P.recv_all(sim, raw)
    assert.are.equal(1, #got)
    local ip = P.parse(got[1])
    local m = P.parse_icmp(ip.payload)
    assert.are.same({ 11, 1 }, { m.type, m.code })
    -- the quote: fragment zero's header and its first 8 data bytes
    assert.are.equal(f[1]:sub(1, 28), m.data)
    local s = core.stats(st)
    assert.are.equal(2, s.ip_reasm_timeout)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
    assert.are.equal(0, tonumber(C.tl_ipv4_reasm_bytes(st)))
    assert.are.equal(-1, tonumber(C.tl_stack_deadline(st)))
  end)

  it("never answers an incomplete ICMP error with an error", function()
    local sim, st = setup(function(c) c.reasm_timeout_us = 1000 end)
    local raw = C.tl_sim_add_raw(sim, P.addr("10.77.0.9"))
    local err = P.icmp(3, 1, nil, string.rep("q", 2000))
    local f = P.fragment({ proto = 1, id = 40, src = "10.77.0.9" }, err, 1000)
    P.send(sim, raw, f[1])
    C.tl_sim_run(sim, 100000)
    assert.is_nil(P.recv(sim, raw))
    local s = core.stats(st)
    assert.are.equal(1, s.ip_reasm_timeout)
    assert.are.equal(1, s.icmp_err_forbidden)
  end)

  it("caps datagrams in progress and bytes held", function()
    local sim, st, raw = setup(function(c) c.reasm_max_datagrams = 4 end)
    local pk = {}
    for id = 1, 6 do pk[id] = frags(100 + id, string.rep("w", 2000), 1000)[1] end
    exchange(sim, raw, pk)
    assert.are.equal(4, C.tl_ipv4_reasm_pending(st))
    assert.are.equal(2, core.stats(st).drop_reasm_cap)

    local sim2, st2, raw2 = setup(function(c) c.reasm_max_bytes = 20000 end)
    local pk2 = {}
    for id = 1, 10 do pk2[id] = frags(200 + id, string.rep("v", 8000), 4000)[1] end
    exchange(sim2, raw2, pk2)
    assert.is_true(tonumber(C.tl_ipv4_reasm_bytes(st2)) <= 20000)
    assert.is_true(core.stats(st2).drop_reasm_cap > 0)
  end)

  it("rebuilds a random 60 KB datagram byte-exact from 1000 random permutations", function()
    math.randomseed(60000)
    local sim, st, raw = setup()
    local data = P.random_bytes(60000)
    for i = 1, 1000 do
      local chunk = math.random(10, 1200) * 8
      local f = shuffle(frags(i % 65536, data, chunk))
      local got = exchange(sim, raw, f)
      assert.are.equal(data, reply_data(got), "permutation " .. i)
    end
    local s = core.stats(st)
    assert.are.equal(1000, s.ip_reasm_ok)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
  end)
end)
