-- IPv6 reassembly (RFC 8200 4.5) with RFC 5722's overlap rule, atomic
-- fragments (RFC 6946), tiny first fragments (RFC 7112), the timeout and
-- the caps; fragmentation of our own datagrams over the path MTU, which
-- packet too big lowers (RFC 8201). The carrier is an ICMPv6 echo: a
-- byte-exact reply proves the datagram was rebuilt byte-exact.
local core = require "tcplua.core"
local P = require "helpers.ipv6pkt"
local P4 = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi
local N = P.NH

local function setup(tweak)
  local sim = ffi.gc(C.tl_sim_new(3, 0), C.tl_sim_free)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  cfg.mtu = 9000
  if tweak then tweak(cfg) end
  local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
  local raw = C.tl_sim_add_raw(sim, P4.addr("10.77.0.1"))
  return sim, st, raw
end

local function exchange(sim, st, raw, pkts, dt)
  local before = core.stats(st)
  for _, s in ipairs(pkts) do C.tl_stack_input(st, s, #s, C.tl_sim_now(sim)) end
  C.tl_sim_run(sim, C.tl_sim_now(sim) + (dt or 1000))
  local t = {}
  for i, s in ipairs(P.recv_all(sim, raw)) do t[i] = P.parse(s) end
  local d = {}
  for k, v in pairs(core.stats(st)) do
    if v ~= before[k] then d[k] = v - before[k] end
  end
  return t, d
end

local function reply_data(out)
  if #out == 0 then return nil end
  local payload = out[1].frag and assert(P.reassemble(out)) or out[1].payload
  local m = P.parse_icmp(payload, "fd77::2", "fd77::1")
  assert.is_true(m.checksum_ok)
  assert.are.equal(129, m.type)
  return m.data
end

local function frags(id, data, chunk, unfrag, next)
  return P.fragment({ next = next }, N.ICMP6, P.echo_request(5, id, data), chunk, id, unfrag)
end

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(1, i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

describe("IPv6 reassembly", function()
  it("rebuilds fragments in order, reversed and shuffled", function()
    math.randomseed(8200)
    local sim, st, raw = setup()
    local data = P.random_bytes(5000)
    assert.are.equal(data, reply_data((exchange(sim, st, raw, frags(1, data, 1000)))))
    local r = frags(2, data, 800)
    local rev = {}
    for i = #r, 1, -1 do rev[#rev + 1] = r[i] end
    assert.are.equal(data, reply_data((exchange(sim, st, raw, rev))))
    for id = 3, 12 do
      assert.are.equal(data, reply_data((exchange(sim, st, raw, shuffle(frags(id, data, 8 * math.random(20, 200)))))))
    end
    local s = core.stats(st)
    assert.are.equal(12, s.ip6_reasm_ok)
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
    assert.are.equal(0, tonumber(C.tl_ipv6_reasm_bytes(st)))
  end)

  it("keeps unfragmentable headers before the fragment header", function()
    local sim, st, raw = setup()
    local data = P.random_bytes(3000)
    local out, d = exchange(sim, st, raw, frags(1, data, 1200, P.opts(N.FRAG, "\5\2\0\0"), N.HOP))
    assert.are.equal(data, reply_data(out))
    assert.are.equal(1, d.ip6_reasm_ok)
  end)

  it("answers a 3000-byte echo with fragments no larger than the MTU", function()
    local sim, st, raw = setup(function(c) c.mtu = 1500 end)
    local data = P.random_bytes(3000)
    local out, d = exchange(sim, st, raw, frags(1, data, 1400))
    assert.are.equal(3, #out)
    for _, f in ipairs(out) do
      assert.is_true(40 + f.plen <= 1500)
      assert.is_not_nil(f.frag)
      assert.are.equal(out[1].frag.id, f.frag.id)
    end
    assert.are.equal(data, reply_data(out))
    assert.are.same({ 1, 3 }, { d.ip6_fragmented, d.ip6_frag_out })
  end)

  it("discards the whole datagram on any overlap (RFC 5722), but not on an exact duplicate", function()
    local sim, st, raw = setup()
    local data = P.random_bytes(2000)
    local f = frags(1, data, 504)
    local out, d = exchange(sim, st, raw, { f[1], f[2], f[2], f[3], f[4] })
    assert.are.equal(data, reply_data(out))
    assert.are.equal(1, d.ip6_reasm_dup)
    -- the same bytes at an offset 8 bytes into another fragment's: overlap
    local msg = P.echo_request(5, 2, data)
    local a = P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 0, true, 2) .. msg:sub(1, 512))
    local b = P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 504, true, 2) .. msg:sub(505, 1016))
    local rest = P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 1016, false, 2) .. msg:sub(1017))
    out, d = exchange(sim, st, raw, { a, b, rest })
    assert.are.equal(0, #out)
    assert.are.equal(1, d.drop_ip6_frag_overlap)
    assert.is_nil(d.icmp6_err_out) -- RFC 5722: no ICMP error
    C.tl_stack_poll(st, C.tl_sim_now(sim) + 61e6)
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
  end)

  it("processes an atomic fragment in isolation (RFC 6946)", function()
    local sim, st, raw = setup()
    local out, d = exchange(sim, st, raw, { P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 0, false, 9) ..
        P.echo_request(5, 1, "atomic")) })
    assert.are.equal("atomic", reply_data(out))
    assert.are.same({ 1, nil }, { d.ip6_atomic_frag, d.ip6_frag_in })
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
  end)

  -- The one parameter problem sent back: code and pointer.
  local function problem(out)
    assert.are.equal(1, #out)
    local m = P.parse_icmp(out[1].payload, "fd77::2", "fd77::1")
    assert.is_true(m.checksum_ok)
    assert.are.equal(4, m.type)
    return m.code, m.ptr
  end

  it("refuses a first fragment without the whole header chain (RFC 7112)", function()
    local sim, st, raw = setup()
    -- the destination options header of the fragmentable part is cut
    local body = P.opts(N.ICMP6, string.rep("\1\0", 20)) .. P.echo_request(5, 1, string.rep("t", 64))
    local first = P.datagram({ next = N.FRAG }, P.frag(N.DST, 0, true, 4) .. body:sub(1, 16))
    local out, d = exchange(sim, st, raw, { first })
    assert.are.same({ 3, 0 }, { problem(out) })
    assert.are.equal(1, d.drop_ip6_frag_tiny)
    -- the upper-layer header itself cut: 2 bytes of ICMPv6
    local msg = P.echo_request(5, 1, string.rep("t", 64))
    first = P.datagram({ next = N.FRAG }, P.frag(N.DST, 0, true, 5) .. P.opts(N.ICMP6, "\1\4\0\0\0\0") .. msg:sub(1, 0))
    out, d = exchange(sim, st, raw, { first })
    assert.are.equal(1, d.drop_ip6_frag_tiny)
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
  end)

  it("answers bad fragment lengths and offsets with parameter problem code 0", function()
    local sim, st, raw = setup()
    local out, d = exchange(sim, st, raw, { P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 0, true, 6) .. "\128" .. string.rep("x", 12)) })
    assert.are.same({ 0, 4 }, { problem(out) })
    assert.are.equal(1, d.drop_ip6_frag_len)
    out, d = exchange(sim, st, raw, { P.datagram({ next = N.FRAG }, P.frag(N.ICMP6, 65528, false, 6) .. "\128" .. string.rep("x", 15)) })
    assert.are.same({ 0, 42 }, { problem(out) })
    assert.are.equal(1, d.drop_ip6_frag_too_big)
  end)

  it("refuses a fragment header inside a reassembled datagram", function()
    local sim, st, raw = setup()
    local inner = P.frag(N.ICMP6, 0, false, 1) .. P.echo_request(5, 1, string.rep("n", 40))
    local out, d = exchange(sim, st, raw, P.fragment({}, N.FRAG, inner, 24, 77))
    assert.are.equal(0, #out)
    assert.are.equal(1, d.drop_ip6_frag_nested)
  end)

  it("gives up after 60 s with time exceeded, only when the first fragment came", function()
    local sim, st, raw = setup()
    local f = frags(1, P.random_bytes(2000), 512)
    local out = exchange(sim, st, raw, { f[1], f[2] }, 59e6)
    assert.are.equal(0, #out)
    assert.are.equal(1, C.tl_ipv6_reasm_pending(st))
    out = exchange(sim, st, raw, {}, 2e6)
    assert.are.equal(1, #out)
    local m = P.parse_icmp(out[1].payload, "fd77::2", "fd77::1")
    assert.are.same({ 3, 1, true }, { m.type, m.code, m.checksum_ok })
    assert.are.equal(f[1]:sub(1, 4), m.data:sub(1, 4))
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
    f = frags(2, P.random_bytes(2000), 512)
    local d
    out, d = exchange(sim, st, raw, { f[2], f[3] }, 61e6)
    assert.are.same({ 0, 1 }, { #out, d.ip6_reasm_timeout })
  end)

  it("holds to its datagram and memory caps", function()
    local sim, st, raw = setup(function(c)
      c.reasm_max_datagrams = 2
      c.reasm_max_bytes = 20000
    end)
    local pk = {}
    for id = 1, 3 do pk[id] = frags(id, P.random_bytes(4000), 1000)[1] end
    local _, d = exchange(sim, st, raw, pk)
    assert.are.equal(1, d.drop_ip6_frag_cap)
    assert.are.equal(2, C.tl_ipv6_reasm_pending(st))
    assert.is_true(tonumber(C.tl_ipv6_reasm_bytes(st)) <= 20000)
    C.tl_stack_poll(st, C.tl_sim_now(sim) + 61e6)
    local big = frags(9, P.random_bytes(30000), 8000)
    _, d = exchange(sim, st, raw, big)
    assert.is_true(d.drop_ip6_frag_cap >= 1)
    assert.is_true(tonumber(C.tl_ipv6_reasm_bytes(st)) <= 20000)
  end)

  it("survives 20,000 mutated fragments and headers, and keeps its books straight", function()
    math.randomseed(5722)
    local sim, st = setup(function(c)
      c.reasm_max_bytes = 256 * 1024
      c.reasm6_timeout_us = 50000
    end)
    local seeds = frags(1, P.random_bytes(3000), 512, P.opts(N.FRAG, "\5\2\0\0"), N.HOP)
    seeds[#seeds + 1] = P.datagram({ next = N.DST }, P.opts(N.ROUTING) .. P.routing(N.ICMP6, 0, 0) .. P.echo_request(1, 1, "s"))
    local t = C.tl_sim_now(sim)
    for i = 1, 20000 do
      local s = seeds[math.random(1, #seeds)]
      for _ = 1, math.random(1, 4) do
        local k = math.random(1, #s)
        local r = math.random()
        if r < 0.7 then
          s = s:sub(1, k - 1) .. string.char(math.random(0, 255)) .. s:sub(k + 1)
        elseif r < 0.85 then
          s = s:sub(1, k)
        else
          s = s .. P.random_bytes(math.random(1, 64))
        end
      end
      if math.random() < 0.8 and #s >= 40 then
        s = string.char(0x60 + s:byte(1) % 16) .. s:sub(2, 4) .. P.u16(#s - 40) .. s:sub(7)
      end
      C.tl_stack_input(st, s, #s, t)
      t = t + math.random(0, 100)
      if i % 100 == 0 then C.tl_stack_poll(st, t) end
      assert.is_true(tonumber(C.tl_ipv6_reasm_bytes(st)) <= 256 * 1024)
    end
    local s = core.stats(st)
    assert.are.equal(20000, s.ip6_in + s.ip_in)
    C.tl_stack_poll(st, t + 50000)
    assert.are.equal(0, C.tl_ipv6_reasm_pending(st))
    assert.are.equal(0, tonumber(C.tl_ipv6_reasm_bytes(st)))
  end)
end)

describe("IPv6 path MTU (RFC 8201)", function()
  local function ptb(mtu, quoted)
    return P.datagram({ next = N.ICMP6 }, P.icmp6(2, 0, P.u32(mtu), quoted))
  end

  it("lowers the path MTU on packet too big, never below 1280 and never up", function()
    local sim, st, raw = setup(function(c) c.mtu = 1500 end)
    local quoted = P.datagram({ src = "fd77::2", dst = "fd77::1", next = N.ICMP6 }, P.icmp6(129, 0, nil, string.rep("q", 1400)))
    local peer = ffi.new("uint8_t[16]")
    ffi.copy(peer, P.PEER, 16)
    assert.are.equal(1500, C.tl_ipv6_pmtu(st, peer))
    local _, d = exchange(sim, st, raw, { ptb(1400, quoted:sub(1, 200)) })
    assert.are.equal(1, d.icmp6_ptb_in)
    assert.are.equal(1400, C.tl_ipv6_pmtu(st, peer))
    exchange(sim, st, raw, { ptb(1450, quoted:sub(1, 200)) })
    assert.are.equal(1400, C.tl_ipv6_pmtu(st, peer))
    exchange(sim, st, raw, { ptb(600, quoted:sub(1, 200)) })
    assert.are.equal(1280, C.tl_ipv6_pmtu(st, peer))
    local data = P.random_bytes(1300)
    local out = exchange(sim, st, raw, frags(1, data, 1400))
    assert.are.equal(2, #out)
    for _, f in ipairs(out) do assert.is_true(40 + f.plen <= 1280) end
    assert.are.equal(data, reply_data(out))
    -- an estimate is forgotten after 10 minutes (RFC 8201 4)
    C.tl_sim_run(sim, C.tl_sim_now(sim) + 601e6)
    C.tl_stack_poll(st, C.tl_sim_now(sim))
    assert.are.equal(1500, C.tl_ipv6_pmtu(st, peer))
  end)

  it("ignores an error whose quote is not one of ours", function()
    local sim, st, raw = setup()
    local quoted = P.datagram({ src = "fd77::5", dst = "fd77::1", next = N.ICMP6 }, P.icmp6(129, 0))
    local _, d = exchange(sim, st, raw, { ptb(1280, quoted) })
    assert.are.equal(1, d.drop_icmp6_bad_quote)
  end)
end)
