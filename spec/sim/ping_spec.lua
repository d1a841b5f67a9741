-- A stack in the sim answers pings from a raw endpoint, byte-exact, also
-- when request and reply are fragmented.
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi

local function setup(mtu, latency)
  local sim = ffi.gc(C.tl_sim_new(7, latency or 1000), C.tl_sim_free)
  local cfg = ffi.new("tl_config")
  C.tl_config_default(cfg)
  if mtu then cfg.mtu = mtu end
  local ep = C.tl_sim_add_stack(sim, cfg)
  local raw = C.tl_sim_add_raw(sim, P.addr("10.77.0.1"))
  assert(ep >= 0 and raw >= 0)
  return sim, C.tl_sim_stack(sim, ep), raw
end

-- Run the sim until the raw endpoint has something (or a second passes),
-- then take everything it got.
local function exchange(sim, raw)
  C.tl_sim_run(sim, C.tl_sim_now(sim) + 1000000)
  -- fragments of one reply all arrive at the same instant: collect them all
  local got = P.recv_all(sim, raw)
  while C.tl_sim_run(sim, C.tl_sim_now(sim)) == 1 do
    for _, s in ipairs(P.recv_all(sim, raw)) do got[#got + 1] = s end
  end
  return got
end

describe("ping in the sim", function()
  it("answers an echo request with a byte-exact reply", function()
    local sim, st, raw = setup()
    local data = "abcdefghijklmnopqrstuvwxyz0123456789"
    P.send(sim, raw, P.datagram({ proto = 1, id = 99 }, P.echo_request(0x4242, 7, data)))
    local got = exchange(sim, raw)
    assert.are.equal(1, #got)
    local ip = P.parse(got[1])
    assert.is_true(ip.header_ok)
    assert.are.equal(P.addr("10.77.0.2"), ip.src)
    assert.are.equal(P.addr("10.77.0.1"), ip.dst)
    assert.are.equal(1, ip.proto)
    local m = P.parse_icmp(ip.payload)
    assert.are.equal(0, m.type)
    assert.is_true(m.checksum_ok)
    assert.are.equal(0x4242, m.id)
    assert.are.equal(7, m.seq)
    assert.are.equal(data, m.data)
    local s = core.stats(st)
    assert.are.equal(1, s.icmp_echo_in)
    assert.are.equal(1, s.icmp_echo_out)
    -- one base latency each way
    assert.are.equal(2000, tonumber(C.tl_sim_now(sim)))
  end)

  it("answers a 3000-byte ping fragmented both ways", function()
    math.randomseed(3000)
    local sim, st, raw = setup(1500)
    local data = P.random_bytes(3000 - 8)
    local frags = P.fragment({ proto = 1, id = 77 }, P.echo_request(1, 2, data), 1480)
    assert.are.equal(3, #frags)
    for _, f in ipairs(frags) do P.send(sim, raw, f) end
    local got = exchange(sim, raw)
    assert.is_true(#got >= 3)
    local parsed = {}
    for i, s in ipairs(got) do
      parsed[i] = P.parse(s)
      assert.is_true(parsed[i].header_ok)
      assert.is_true(#s <= 1500)
      assert.are.equal(parsed[1].id, parsed[i].id)
    end
    local m = P.parse_icmp(assert(P.reassemble(parsed)))
    assert.are.equal(0, m.type)
    assert.is_true(m.checksum_ok)
    assert.are.equal(data, m.data)
    local s = core.stats(st)
    assert.are.equal(1, s.ip_reasm_ok)
    assert.are.equal(1, s.ip_fragmented)
    assert.are.equal(#got, s.ip_frag_out)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
  end)

  it("answers pings of every size from 0 to 2000 data bytes", function()
    local sim, _, raw = setup(576, 0)
    for n = 0, 2000, 37 do
      local data = string.rep(string.char(n % 256), n)
      local frags = P.fragment({ proto = 1, id = n }, P.echo_request(9, n, data), 552)
      for _, f in ipairs(frags) do P.send(sim, raw, f) end
      local parsed = {}
      for i, s in ipairs(exchange(sim, raw)) do parsed[i] = P.parse(s) end
      local m = P.parse_icmp(assert(P.reassemble(parsed)))
      assert.are.equal(n, m.seq)
      assert.are.equal(data, m.data)
    end
  end)
end)

describe("ICMP", function()
  -- A datagram of a protocol nobody here speaks (253, RFC 3692 experimentation):
  -- each gets a protocol unreachable.
  local function other(id) return P.datagram({ proto = 253, id = id }, "payload") end

  it("drops bad checksums and short messages, counted, unanswered", function()
    local sim, st, raw = setup()
    local req = P.echo_request(1, 1, "data")
    local broken = req:sub(1, 2) .. "\0\0" .. req:sub(5)
    P.send(sim, raw, P.datagram({ proto = 1 }, broken))
    P.send(sim, raw, P.datagram({ proto = 1 }, "\8\0\0"))
    assert.are.equal(0, C.tl_sim_run(sim, 100000))
    local s = core.stats(st)
    assert.are.equal(1, s.drop_icmp_checksum)
    assert.are.equal(1, s.drop_icmp_short)
    assert.are.equal(0, s.icmp_out)
  end)

  it("rate-limits the errors it sends and counts the suppressed ones", function()
    local sim = ffi.gc(C.tl_sim_new(7, 0), C.tl_sim_free)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    cfg.icmp_rate_per_s = 5
    local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
    local raw = C.tl_sim_add_raw(sim, P.addr("10.77.0.1"))
    for i = 1, 20 do P.send(sim, raw, other(i)) end
    C.tl_sim_run(sim, 1)
    assert.are.equal(5, #P.recv_all(sim, raw))
    assert.are.equal(15, core.stats(st).icmp_err_suppressed)
    -- a fifth of a second later one more token has dripped in
    C.tl_sim_run(sim, 200000)
    for i = 21, 23 do P.send(sim, raw, other(i)) end
    C.tl_sim_run(sim, C.tl_sim_now(sim) + 1)
    assert.are.equal(1, #P.recv_all(sim, raw))
    assert.are.equal(5 + 1, core.stats(st).icmp_err_out)
  end)

  it("passes errors quoting our TCP to TCP and ignores the rest", function()
    local sim, st, raw = setup()
    local our_tcp = P.datagram({ src = "10.77.0.2", dst = "10.77.0.1", proto = 6 }, string.rep("T", 20))
    local our_other = P.datagram({ src = "10.77.0.2", dst = "10.77.0.1", proto = 253 }, string.rep("U", 8))
    local not_ours = P.datagram({ src = "10.77.0.5", dst = "10.77.0.1", proto = 6 }, string.rep("T", 20))
    local msgs = {
      P.icmp(3, 4, "\0\0" .. P.u16(1280), our_tcp:sub(1, 28)), -- frag needed, RFC 1191
      P.icmp(3, 1, nil, our_tcp),
      P.icmp(11, 0, nil, our_tcp),
      P.icmp(12, 0, nil, our_tcp),
      P.icmp(3, 3, nil, our_other),   -- about a protocol no transport here speaks
      P.icmp(3, 1, nil, not_ours),    -- quote names someone else
      P.icmp(3, 1, nil, our_tcp:sub(1, 24)), -- quote too short
      P.icmp(4, 0, nil, our_tcp),     -- source quench (RFC 6633)
      P.icmp(5, 1, nil, our_tcp),     -- redirect
      P.icmp(42, 0),
      P.icmp(0, 0, P.u16(1) .. P.u16(1), "pong"),
    }
    for _, m in ipairs(msgs) do P.send(sim, raw, P.datagram({ proto = 1 }, m)) end
    C.tl_sim_run(sim, 100000)
    local s = core.stats(st)
    assert.are.equal(4, s.icmp_err_in)
    assert.are.equal(3, s.icmp_ignored)
    assert.are.equal(2, s.drop_icmp_bad_quote)
    assert.are.equal(1, s.icmp_unknown_type)
    assert.are.equal(1, s.icmp_echo_reply_in)
    assert.are.equal(0, s.icmp_out)
    assert.is_nil(P.recv(sim, raw))
  end)

  it("answers a 60 KB ping, the largest a datagram can carry", function()
    math.randomseed(65507)
    local sim, _, raw = setup(1500, 0)
    -- 65535 - 20 (IP) - 8 (ICMP): the reply is a 65535-byte datagram too
    local data = P.random_bytes(65507)
    for _, f in ipairs(P.fragment({ proto = 1, id = 1 }, P.echo_request(1, 1, data), 1480)) do
      P.send(sim, raw, f)
    end
    local parsed = {}
    for i, s in ipairs(exchange(sim, raw)) do parsed[i] = P.parse(s) end
    assert.are.equal(45, #parsed)
    assert.are.equal(65535 - 20, parsed[45].off + #parsed[45].payload)
    assert.are.equal(data, P.parse_icmp(assert(P.reassemble(parsed))).data)
  end)
end)
