-- IPv4 codec and input validation: every malformation is dropped under
-- its own counter; output builds correct headers and fragments.
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local rig = require "helpers.stackrig"
local C, ffi = core.C, core.ffi

local US, PEER = P.addr("10.77.0.2"), P.addr("10.77.0.1")

local new_stack, feed = rig.new_stack, rig.feed



local ping = P.echo_request(1, 1, "hello")

describe("IPv4 codec", function()
  it("parses what tl_ip_build wrote, field for field", function()
    math.randomseed(11)
    local h, back = ffi.new("tl_ip_hdr"), ffi.new("tl_ip_hdr")
    local buf = ffi.new("uint8_t[20]")
    for _ = 1, 500 do
      h.tos, h.ttl, h.proto = math.random(0, 255), math.random(0, 255), math.random(0, 255)
      h.df, h.mf = math.random(0, 1), math.random(0, 1)
      h.total_len = math.random(20, 65535)
      h.id = math.random(0, 65535)
      h.frag_off = math.random(0, 8191) * 8
      h.src, h.dst = math.random(0, 2 ^ 32 - 1), math.random(0, 2 ^ 32 - 1)
      assert.are.equal(20, tonumber(C.tl_ip_build(buf, h)))
      -- the parser checks total_len against the buffer: claim it all
      local bytes = ffi.string(buf, 20) .. string.rep("\0", h.total_len - 20)
      assert.are.equal(C.TL_IP_OK, C.tl_ip_parse(bytes, #bytes, back))
      for _, f in ipairs({ "tos", "ttl", "proto", "df", "mf", "total_len", "id", "frag_off", "src", "dst" }) do
        assert.are.equal(h[f], back[f], f)
      end
      assert.are.equal(20, back.hdr_len)
      assert.are.equal(0, P.csum(ffi.string(buf, 20)))
    end
  end)

  it("agrees with the Lua packet builder", function()
    local s = P.datagram({ id = 0xbeef, ttl = 33, proto = 6, df = true, tos = 0x10 }, "xyz")
    local h = ffi.new("tl_ip_hdr")
    assert.are.equal(0, C.tl_ip_parse(s, #s, h))
    assert.are.equal(0xbeef, h.id)
    assert.are.equal(33, h.ttl)
    assert.are.equal(6, h.proto)
    assert.are.equal(1, h.df)
    assert.are.equal(0x10, h.tos)
    assert.are.equal(23, h.total_len)
    assert.are.equal(PEER, h.src)
    assert.are.equal(US, h.dst)
  end)

  it("names each malformation", function()
    local h = ffi.new("tl_ip_hdr")
    local good = P.datagram({}, "abcd")
    local cases = {
      { good:sub(1, 19), C.TL_IP_ESHORT },
      { P.datagram({ version = 6 }, "abcd"), C.TL_IP_EVERSION },
      { P.datagram({ ihl = 4 }, "abcd"), C.TL_IP_EIHL },
      { P.datagram({ ihl = 15 }, "abcd"), C.TL_IP_EIHL },
      { P.datagram({ total_len = 100 }, "abcd"), C.TL_IP_ETOTLEN },
      { P.datagram({ total_len = 19 }, "abcd"), C.TL_IP_ETOTLEN },
      { P.datagram({ checksum = 0x1234 }, "abcd"), C.TL_IP_ECSUM },
    }
    for i, c in ipairs(cases) do assert.are.equal(c[2], C.tl_ip_parse(c[1], #c[1], h), "case " .. i) end
  end)

  it("flags sources a host must not accept", function()
    for _, a in ipairs({ "0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.255", "240.0.0.1",
      "255.255.255.255" }) do
      assert.are_not.equal(0, C.tl_ip_bad_src(P.addr(a)), a)
    end
    for _, a in ipairs({ "10.77.0.1", "192.168.1.1", "1.1.1.1", "223.255.255.254" }) do
      assert.are.equal(0, C.tl_ip_bad_src(P.addr(a)), a)
    end
  end)
end)

describe("IPv4 input", function()
  it("drops each malformed datagram under its own counter and sends nothing", function()
    local good = P.datagram({}, ping)
    local cases = {
      drop_ip_short = { good:sub(1, 19), "", "\69" },
      drop_ip_version = { P.datagram({ version = 5 }, ping), P.datagram({ version = 0 }, ping) }, -- version 6 goes to IPv6 (ipv6_spec)
      drop_ip_ihl = { P.datagram({ ihl = 4 }, ping), P.datagram({ ihl = 0 }, ping), P.header({ ihl = 15 }) },
      drop_ip_total_len = { P.datagram({ total_len = 19 }, ping), P.datagram({ total_len = #good + 1 }, ping),
        good:sub(1, #good - 1) },
      drop_ip_checksum = { P.datagram({ checksum = 0 }, ping), P.datagram({ checksum = 0xffff }, ping) },
      drop_ip_not_ours = { P.datagram({ dst = "10.77.0.3" }, ping), P.datagram({ dst = "255.255.255.255" }, ping),
        P.datagram({ dst = "224.0.0.1" }, ping) },
      drop_ip_src = { P.datagram({ src = "0.0.0.0" }, ping), P.datagram({ src = "127.0.0.1" }, ping),
        P.datagram({ src = "224.0.0.5" }, ping), P.datagram({ src = "255.255.255.255" }, ping),
        P.datagram({ src = "10.77.0.255" }, ping) },
    }
    local st = new_stack()
    for counter, pkts in pairs(cases) do
      for i, s in ipairs(pkts) do
        local d = feed(st, s)
        assert.are.same({ ip_in = 1, [counter] = 1 }, d, counter .. " case " .. i)
      end
    end
    -- a bit flipped anywhere in the header is caught (checksum or earlier)
    for byte = 1, 20 do
      local b = good:byte(byte)
      local s = good:sub(1, byte - 1) .. string.char(bit.bxor(b, 0x08)) .. good:sub(byte + 1)
      local d = feed(st, s)
      assert.are.equal(0, d.ip_out or 0)
      assert.are.equal(0, d.icmp_in or 0, "byte " .. byte)
    end
    assert.are.equal(0, core.stats(st).ip_out)
  end)

  it("accepts a valid datagram, trims link padding, skips options", function()
    local st = new_stack()
    assert.are.same({ ip_in = 1, icmp_in = 1, icmp_echo_in = 1, icmp_echo_out = 1, icmp_out = 1, ip_out = 1 },
      feed(st, P.datagram({}, ping)))
    -- padding after total_len is not part of the datagram: checksum still fine
    local d = feed(st, P.datagram({}, ping) .. string.rep("\255", 17))
    assert.are.equal(1, d.icmp_echo_out)
    assert.is_nil(d.drop_icmp_checksum)
    -- 8 bytes of options (NOPs, then end of list)
    d = feed(st, P.datagram({ options = "\1\1\1\1\1\1\1\0" }, ping))
    assert.are.equal(1, d.ip_options)
    assert.are.equal(1, d.icmp_echo_out)
  end)

  it("answers an unknown protocol with ICMP protocol unreachable quoting it", function()
    local sim = ffi.gc(C.tl_sim_new(1, 100), C.tl_sim_free)
    local ep = C.tl_sim_add_stack(sim, nil)
    local raw = C.tl_sim_add_raw(sim, PEER)
    -- 253 (RFC 3692 experimentation): a protocol nobody here speaks.
    local udp = P.datagram({ proto = 253, id = 4321 }, string.rep("u", 600))
    P.send(sim, raw, udp)
    assert.are.equal(1, C.tl_sim_run(sim, 1000000))
    local ip = P.parse(assert(P.recv(sim, raw)))
    assert.are.equal(1, ip.proto)
    assert.are.equal(PEER, ip.dst)
    local m = P.parse_icmp(ip.payload)
    assert.are.same({ 3, 2 }, { m.type, m.code })
    assert.is_true(m.checksum_ok)
    -- RFC 1812 4.3.2.3: as much of the original as fits in 576 bytes
    assert.are.equal(576, ip.total_len)
    assert.are.equal(udp:sub(1, 576 - 28), m.data)
    assert.are.equal(1, core.stats(C.tl_sim_stack(sim, ep)).ip_proto_unreach)
  end)
end)

describe("IPv4 output", function()
  local function capture_sim(tweak)
    local sim = ffi.gc(C.tl_sim_new(1, 0), C.tl_sim_free)
    local cfg = ffi.new("tl_config")
    C.tl_config_default(cfg)
    if tweak then tweak(cfg) end
    local st = C.tl_sim_stack(sim, C.tl_sim_add_stack(sim, cfg))
    local raw = C.tl_sim_add_raw(sim, PEER)
    return sim, st, raw
  end

  local function sent(sim, raw)
    C.tl_sim_run(sim, C.tl_sim_now(sim) + 1)
    local t = {}
    for i, s in ipairs(P.recv_all(sim, raw)) do t[i] = P.parse(s) end
    return t
  end

  it("sends a datagram that fits in one piece with our address, TTL and DF", function()
    local sim, st, raw = capture_sim(function(c) c.ttl = 42 end)
    assert.are.equal(0, C.tl_ipv4_output(st, PEER, 253, "payload!", 8, 1))
    local p = sent(sim, raw)
    assert.are.equal(1, #p)
    assert.is_true(p[1].header_ok)
    assert.are.same({ US, PEER, 42, 253, true, false, 0, "payload!" },
      { p[1].src, p[1].dst, p[1].ttl, p[1].proto, p[1].df, p[1].mf, p[1].off, p[1].payload })
  end)

  it("fragments a datagram over the MTU into 8-byte aligned pieces", function()
    math.randomseed(5)
    for _, mtu in ipairs({ 68, 576, 1280, 1500, 9000 }) do
      local sim, st, raw = capture_sim(function(c) c.mtu = mtu end)
      for _, n in ipairs({ mtu - 20, mtu - 19, 4000, 65515 }) do
        local payload = P.random_bytes(n)
        assert.are.equal(0, C.tl_ipv4_output(st, PEER, 17, payload, n, 0))
        local p = sent(sim, raw)
        local chunk = math.floor((mtu - 20) / 8) * 8
        assert.are.equal(n <= mtu - 20 and 1 or math.ceil(n / chunk), #p, "mtu " .. mtu .. " n " .. n)
        for i, f in ipairs(p) do
          assert.is_true(f.header_ok)
          assert.is_true(f.total_len <= mtu)
          assert.are.equal(p[1].id, f.id)
          assert.are.equal(i < #p, f.mf)
          assert.are.equal(0, f.off % 8)
        end
        assert.are.equal(payload, P.reassemble(p))
      end
    end
  end)

  it("refuses a DF datagram over the MTU and counts it", function()
    local sim, st, raw = capture_sim()
    local big = string.rep("x", 1481)
    assert.are.equal(C.TL_EINVAL, C.tl_ipv4_output(st, PEER, 17, big, #big, 1))
    assert.are.equal(0, #sent(sim, raw))
    assert.are.equal(1, core.stats(st).drop_ip_out_too_big)
    assert.are.equal(C.TL_EINVAL, C.tl_ipv4_output(st, PEER, 17, big, 65516, 0))
  end)

  it("numbers datagrams from a per-stack ID that depends on the seed", function()
    local function ids(seed)
      local sim, st, raw = capture_sim(function(c) c.seed = seed end)
      local t = {}
      for i = 1, 5 do
        C.tl_ipv4_output(st, PEER, 17, "x", 1, 0)
        t[i] = sent(sim, raw)[1].id
      end
      return t
    end
    local a, b, c = ids(1), ids(1), ids(2)
    assert.are.same(a, b)
    assert.are_not.same(a, c)
    for i = 2, 5 do assert.are.equal((a[i - 1] + 1) % 65536, a[i]) end
  end)
end)

describe("IPv4 under hostile input", function()
  -- Fix the header checksum (when the header is readable) so mutations get
  -- past the first check and reach reassembly, ICMP and the demux.
  local function refix(s)
    if #s < 20 then return s end
    local hl = bit.band(s:byte(1), 15) * 4
    if hl < 20 or hl > #s then return s end
    local h = s:sub(1, 10) .. "\0\0" .. s:sub(13, hl)
    return h:sub(1, 10) .. P.u16(P.csum(h)) .. s:sub(hl + 1)
  end

  it("survives 30,000 mutated datagrams and keeps its books straight", function()
    math.randomseed(1122)
    local st = new_stack(function(c)
      c.reasm_timeout_us = 50000
      c.reasm_max_bytes = 256 * 1024
      c.reasm6_timeout_us = 50000
    end)
    local seeds = {
      P.datagram({ proto = 1 }, P.echo_request(1, 2, string.rep("e", 100))),
      P.datagram({ proto = 17 }, string.rep("u", 64)),
      P.datagram({ proto = 1 }, P.icmp(3, 4, "\0\0\5\220", P.datagram({ src = "10.77.0.2", proto = 6 }, string.rep("t", 20)))),
      P.datagram({ proto = 6, options = "\7\7\4\0\0\0\0" }, string.rep("s", 40)),
    }
    for _, f in ipairs(P.fragment({ proto = 1, id = 5 }, P.echo_request(3, 4, string.rep("f", 3000)), 512)) do
      seeds[#seeds + 1] = f
    end
    local t = 0
    for i = 1, 30000 do
      local s = seeds[math.random(1, #seeds)]
      for _ = 1, math.random(1, 4) do
        local k = math.random(1, #s)
        local r = math.random()
        if r < 0.6 then
          s = s:sub(1, k - 1) .. string.char(math.random(0, 255)) .. s:sub(k + 1)
        elseif r < 0.8 then
          s = s:sub(1, k)
        else
          s = s .. P.random_bytes(math.random(1, 64))
        end
      end
      if math.random() < 0.8 then s = refix(s) end
      C.tl_stack_input(st, s, #s, t)
      t = t + math.random(0, 100)
      if i % 100 == 0 then C.tl_stack_poll(st, t) end
      assert.is_true(tonumber(C.tl_ipv4_reasm_bytes(st)) <= 256 * 1024)
    end
    local s = core.stats(st)
    assert.are.equal(30000, s.ip_in + s.ip6_in) -- a mutated version nibble of 6 goes to IPv6
    C.tl_stack_poll(st, t + 50000)
    assert.are.equal(0, C.tl_ipv4_reasm_pending(st))
    assert.are.equal(0, tonumber(C.tl_ipv4_reasm_bytes(st)))
    assert.are.equal(-1, tonumber(C.tl_stack_deadline(st)))
    -- every datagram met some fate: a drop reason, or a layer took it
    local drops = 0
    for k, v in pairs(s) do
      if k:match("^drop_ip_") then drops = drops + v end
    end
    assert.is_true(drops > 1000 and drops < 30000, "ip drops " .. drops)
  end)
end)
