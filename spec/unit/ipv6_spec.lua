-- IPv6 input validation (RFC 8200), the extension-header chain as a
-- destination walks it, and ICMPv6 (RFC 4443): every malformation is
-- dropped under its own counter, and a parameter problem goes back where
-- the RFCs ask for one. The carrier is an ICMPv6 echo through the sim.
local core = require "tcplua.core"
local P = require "helpers.ipv6pkt"
local rig = require "helpers.stackrig"
local C, ffi = core.C, core.ffi
local N = P.NH

local function setup(tweak) return rig.sim_stack(tweak) end

local function exchange(sim, st, raw, pkts) return rig.exchange(sim, st, raw, pkts, P) end

local ECHO = P.echo_request(7, 1, string.rep("p", 56))
local function echo_dgram(f) return P.datagram(f or { next = N.ICMP6 }, ECHO) end

-- The one ICMPv6 message sent back, checked from fd77::2 to fd77::1.
local function one_icmp(out)
  assert.are.equal(1, #out)
  local p = out[1]
  assert.are.equal(6, p.version)
  assert.are.equal(P.US, p.src)
  assert.are.equal(P.PEER, p.dst)
  assert.are.equal(58, p.proto)
  local m = P.parse_icmp(p.payload, "fd77::2", "fd77::1")
  assert.is_true(m.checksum_ok)
  return m
end

describe("IPv6 input", function()
  it("answers an echo request byte-exact, also to the all-nodes group", function()
    local sim, st, raw = setup()
    local out, d = exchange(sim, st, raw, { echo_dgram() })
    local m = one_icmp(out)
    assert.are.equal(129, m.type)
    assert.are.equal(7, m.id)
    assert.are.equal(string.rep("p", 56), m.data)
    assert.are.equal(1, d.ip6_in)
    assert.are.equal(1, d.icmp6_echo_out)
    local mc = P.datagram({ next = N.ICMP6, dst = "ff02::1" }, P.echo_request(7, 2, "x", "fd77::1", "ff02::1"))
    m = one_icmp((exchange(sim, st, raw, { mc })))
    assert.are.equal(129, m.type)
    assert.are.equal(2, m.seq)
  end)

  it("drops each malformation under its own counter and keeps answering", function()
    local sim, st, raw = setup()
    local good = echo_dgram()
    local cases = {
      drop_ip6_short = { good:sub(1, 39) },
      drop_ip6_payload_len = { P.header { next = 58, plen = #ECHO + 1 } .. ECHO, good:sub(1, #good - 1) },
      drop_ip6_not_ours = { echo_dgram { next = 58, dst = "fd77::3" }, echo_dgram { next = 58, dst = "ff02::2" } },
      drop_ip6_src = { echo_dgram { next = 58, src = "ff02::1" }, echo_dgram { next = 58, src = "::" },
        echo_dgram { next = 58, src = "::1" } },
      drop_icmp6_checksum = { P.datagram({ next = 58 }, ECHO:sub(1, 8) .. "q" .. ECHO:sub(10)) },
      drop_icmp6_short = { P.datagram({ next = 58 }, "\128\0\0") },
    }
    for counter, list in pairs(cases) do
      for i, s in ipairs(list) do
        local out, d = exchange(sim, st, raw, { s })
        assert.are.equal(0, #out, counter .. " " .. i)
        assert.are.equal(1, d[counter], counter .. " " .. i)
      end
    end
    assert.are.equal(129, one_icmp((exchange(sim, st, raw, { good }))).type)
  end)

  it("accepts any hop limit: a host never forwards", function()
    local sim, st, raw = setup()
    assert.are.equal(129, one_icmp((exchange(sim, st, raw, { echo_dgram { next = 58, hlim = 0 } }))).type)
  end)

  it("drops everything while IPv6 is off", function()
    local sim, st, raw = setup(function(c) c.ipv6 = 0 end)
    local out, d = exchange(sim, st, raw, { echo_dgram() })
    assert.are.equal(0, #out)
    assert.are.equal(1, d.drop_ip6_off)
  end)
end)

describe("IPv6 extension headers", function()
  local function ext(next, chain) return P.datagram({ next = next }, chain .. ECHO) end

  it("are walked in any order, hop-by-hop first, to the echo behind them", function()
    local sim, st, raw = setup()
    local chain = P.opts(N.DST, "\5\2\0\0") .. P.opts(N.ROUTING) .. P.routing(N.FRAG, 0, 0) ..
        P.frag(N.DST, 0, false) .. P.opts(N.ICMP6, "\1\0")
    local out, d = exchange(sim, st, raw, { ext(N.HOP, chain) })
    assert.are.equal(129, one_icmp(out).type)
    assert.are.equal(1, d.ip6_atomic_frag)
  end)

  -- The one parameter problem a datagram s draws: code and pointer.
  local function problem(sim, st, raw, s)
    local out, d = exchange(sim, st, raw, { s })
    local m = one_icmp(out)
    assert.are.equal(4, m.type)
    assert.are.equal(s:sub(1, #m.data), m.data) -- the quote is the datagram
    return m.code, m.ptr, d
  end

  it("answers hop-by-hop out of place, routing type 0 and unknown next headers with parameter problems", function()
    local sim, st, raw = setup()
    local code, ptr, d = problem(sim, st, raw, ext(N.DST, P.opts(N.HOP) .. P.opts(N.ICMP6)))
    assert.are.same({ 1, 40, 1 }, { code, ptr, d.drop_ip6_hbh_not_first })
    code, ptr, d = problem(sim, st, raw, ext(N.ROUTING, P.routing(N.ICMP6, 0, 2, 2)))
    assert.are.same({ 0, 42, 1 }, { code, ptr, d.drop_ip6_routing })
    code, ptr, d = problem(sim, st, raw, ext(N.DST, P.opts(253)))
    assert.are.same({ 1, 40, 1 }, { code, ptr, d.drop_ip6_unknown_next })
    code, ptr = problem(sim, st, raw, P.datagram({ next = 253 }, "whatever"))
    assert.are.same({ 1, 6 }, { code, ptr })
    -- a routing header without segments left is ignored (RFC 8200 4.4)
    assert.are.equal(129, one_icmp((exchange(sim, st, raw, { ext(N.ROUTING, P.routing(N.ICMP6, 0, 0)) }))).type)
  end)

  it("acts on unknown options by their high bits", function()
    local sim, st, raw = setup()
    local function opt(t, dst)
      local body = P.opts(N.ICMP6, string.char(t, 2, 0, 0)) .. P.echo_request(7, 3, "o", "fd77::1", dst)
      return P.datagram({ next = N.DST, dst = dst }, body)
    end
    assert.are.equal(129, one_icmp((exchange(sim, st, raw, { opt(0x3e) }))).type) -- 00 skip
    local out, d = exchange(sim, st, raw, { opt(0x7e) })                          -- 01 silent
    assert.are.same({ 0, 1 }, { #out, d.drop_ip6_option })
    local code, ptr = problem(sim, st, raw, opt(0xbe))                             -- 10 always
    assert.are.same({ 2, 42 }, { code, ptr })
    code, ptr = problem(sim, st, raw, opt(0xbe, "ff02::1"))                        -- even to a group
    assert.are.same({ 2, 42 }, { code, ptr })
    assert.are.equal(2, (problem(sim, st, raw, opt(0xfe))))                        -- 11 unicast
    out, d = exchange(sim, st, raw, { opt(0xfe, "ff02::1") })                       -- 11 group: silent
    assert.are.same({ 0, 1 }, { #out, d.drop_ip6_option })
  end)

  it("drops truncated headers, long chains and No Next Header without a word", function()
    local sim, st, raw = setup()
    local many = ""
    for _ = 1, 17 do many = many .. P.opts(N.DST) end
    local cases = {
      drop_ip6_ext_trunc = P.datagram({ next = N.DST }, "\58\3\1\0\0\0\0\0"),
      drop_ip6_option_len = P.datagram({ next = N.DST }, "\58\0\1\9\0\0\0\0" .. ECHO),
      drop_ip6_ext_chain = P.datagram({ next = N.DST }, many:sub(1, -9) .. "\58" .. many:sub(-7) .. ECHO),
      ip6_no_next = P.datagram({ next = N.DST }, P.opts(N.NONE) .. "trailing"),
    }
    for counter, s in pairs(cases) do
      local out, d = exchange(sim, st, raw, { s })
      assert.are.equal(0, #out, counter)
      assert.are.equal(1, d[counter], counter)
    end
  end)

  it("never sends an error about an ICMPv6 error, and rate-limits the rest", function()
    local sim, st, raw = setup(function(c) c.icmp_rate_per_s = 5 end)
    local err = P.icmp6(1, 4, nil, "quoted")
    local out, d = exchange(sim, st, raw, { P.datagram({ next = N.ROUTING }, P.routing(N.ICMP6, 0, 1) .. err) })
    assert.are.same({ 0, 1, 1 }, { #out, d.drop_ip6_routing, d.icmp6_err_forbidden })
    local bad = {}
    for i = 1, 20 do bad[i] = P.datagram({ next = 253 }, "x" .. i) end
    out, d = exchange(sim, st, raw, bad)
    assert.are.equal(5, #out)
    assert.are.same({ 5, 15 }, { d.icmp6_err_out, d.icmp6_err_suppressed })
  end)
end)
