-- The pcapng writer (core/link/pcap.c through tcplua.pcap): the file it writes
-- must parse block by block, and tshark must read it without a malformed
-- packet and show the comments and directions we recorded.
local core = require "tcplua.core"
local pcap = require "tcplua.pcap"
local fault = require "tcplua.fault"
local C, ffi = core.C, core.ffi

local function be16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function be32(n) return be16(math.floor(n / 65536) % 65536) .. be16(n % 65536) end

local function csum(s)
  local sum = 0
  if #s % 2 == 1 then s = s .. "\0" end
  for i = 1, #s, 2 do sum = sum + s:byte(i) * 256 + s:byte(i + 1) end
  while sum > 0xffff do sum = (sum % 65536) + math.floor(sum / 65536) end
  return 0xffff - sum
end

-- A valid IPv4 + TCP datagram (checksums right), flags as bits.
local function tcp_packet(src, dst, sport, dport, seq, ack, flags, payload)
  local ip_src, ip_dst = be32(core.ip(src)), be32(core.ip(dst))
  local function tcp_hdr(ck)
    return be16(sport) .. be16(dport) .. be32(seq) .. be32(ack) .. string.char(0x50, flags)
      .. be16(65535) .. be16(ck) .. be16(0)
  end
  local seg = tcp_hdr(0) .. payload
  local pseudo = ip_src .. ip_dst .. "\0\6" .. be16(#seg)
  seg = tcp_hdr(csum(pseudo .. seg)) .. payload
  local function ip_hdr(ck)
    return "\69\0" .. be16(20 + #seg) .. be16(1) .. "\64\0" .. "\64\6" .. be16(ck) .. ip_src .. ip_dst
  end
  return ip_hdr(csum(ip_hdr(0))) .. seg
end

local function u32le(s, i) return s:byte(i) + s:byte(i + 1) * 256 + s:byte(i + 2) * 65536 + s:byte(i + 3) * 16777216 end
local function u16le(s, i) return s:byte(i) + s:byte(i + 1) * 256 end

-- Reads a little-endian pcapng file into a list of blocks; every EPB gets
-- its packet bytes, timestamp, comment and direction flags.
local function read_pcapng(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  local blocks, i = {}, 1
  while i <= #s do
    assert(i + 11 <= #s, "truncated block header at " .. i)
    local btype, blen = u32le(s, i), u32le(s, i + 4)
    assert(blen % 4 == 0 and blen >= 12, "bad block length " .. blen)
    assert(u32le(s, i + blen - 4) == blen, "trailing length differs at " .. i)
    local b = { type = btype, len = blen }
    local opts_at
    if btype == 0x0A0D0D0A then
      b.magic = u32le(s, i + 8)
      opts_at = i + 24
    elseif btype == 1 then
      b.linktype, b.snaplen = u16le(s, i + 8), u32le(s, i + 12)
      opts_at = i + 16
    elseif btype == 6 then
      b.ts = u32le(s, i + 12) * 4294967296 + u32le(s, i + 16)
      b.caplen, b.origlen = u32le(s, i + 20), u32le(s, i + 24)
      b.data = s:sub(i + 28, i + 28 + b.caplen - 1)
      opts_at = i + 28 + math.ceil(b.caplen / 4) * 4
    end
    if opts_at then
      local j = opts_at
      while j < i + blen - 4 do
        local code, olen = u16le(s, j), u16le(s, j + 2)
        if code == 0 then break end
        local val = s:sub(j + 4, j + 3 + olen)
        if code == 1 then b.comment = val end
        if btype == 6 and code == 2 then b.flags = u32le(val, 1) end
        if btype == 1 and code == 9 then b.tsresol = val:byte(1) end
        j = j + 4 + math.ceil(olen / 4) * 4
      end
    end
    blocks[#blocks + 1] = b
    i = i + blen
  end
  return blocks
end

local function tshark(args)
  local h = io.popen("tshark " .. args .. " 2>&1; echo \"rc=$?\"")
  local out = h:read("*a")
  h:close()
  -- tshark's warning when run as root is not about the file.
  return (out:gsub("Running as user[^\n]*\n", ""))
end

local function have_tshark()
  return os.execute("command -v tshark >/dev/null 2>&1") == 0
end

describe("pcapng writer", function()
  local path

  before_each(function() path = os.tmpname() end)
  after_each(function() os.remove(path) end)

  -- A short exchange: handshake, one data segment lost by a fault and
  -- retransmitted, the ACK.
  local T0 = 1700000000 * 1000000
  local function write_sample()
    local cap = assert(pcap.open(path))
    local A, B = "10.77.0.1", "10.77.0.2"
    local lost = fault.normalize(fault.new(1).loss(1)({ len = 5 }, "in"))
    local pkts = {
      { tcp_packet(A, B, 40000, 7, 100, 0, 0x02, ""), T0, "in" },
      { tcp_packet(B, A, 7, 40000, 500, 101, 0x12, ""), T0 + 150, "out" },
      { tcp_packet(A, B, 40000, 7, 101, 501, 0x10, ""), T0 + 300, "in" },
      { tcp_packet(A, B, 40000, 7, 101, 501, 0x18, "hello"), T0 + 400, "in", pcap.comment(lost) },
      { tcp_packet(A, B, 40000, 7, 101, 501, 0x18, "hello"), T0 + 200400, "in", "retransmission" },
      { tcp_packet(B, A, 7, 40000, 501, 106, 0x10, ""), T0 + 200500, "out" },
    }
    for _, p in ipairs(pkts) do assert(cap:write(p[1], p[2], p[3], p[4])) end
    assert.equal(#pkts, cap:count())
    assert(cap:close())
    return pkts
  end

  it("writes SHB, IDB (raw IPv4, microseconds) and one EPB per packet", function()
    local pkts = write_sample()
    local b = read_pcapng(path)
    assert.equal(2 + #pkts, #b)
    assert.equal(0x0A0D0D0A, b[1].type)
    assert.equal(0x1A2B3C4D, b[1].magic)
    assert.equal(1, b[2].type)
    assert.equal(101, b[2].linktype)
    assert.equal(6, b[2].tsresol)
    for k, p in ipairs(pkts) do
      local e = b[k + 2]
      assert.equal(6, e.type)
      assert.equal(p[1], e.data)
      assert.equal(#p[1], e.origlen)
      assert.equal(p[2], e.ts)
      assert.equal(p[3] == "in" and 1 or 2, e.flags)
      assert.equal(p[4], e.comment)
    end
    assert.equal("dropped by fault: loss", b[6].comment)
  end)

  it("cuts packets at the snap length but keeps the original length", function()
    local p = assert(C.tl_pcap_open(path))
    C.tl_pcap_set_snaplen(p, 30)
    local pkt = tcp_packet("10.77.0.1", "10.77.0.2", 1, 2, 3, 4, 0x18, string.rep("x", 100))
    assert.equal(0, C.tl_pcap_write(p, ffi.cast("const uint8_t *", pkt), #pkt, 5, C.TL_PCAP_DIR_OUT, nil))
    assert.equal(0, C.tl_pcap_close(p))
    local b = read_pcapng(path)
    assert.equal(30, b[3].caplen)
    assert.equal(#pkt, b[3].origlen)
    assert.equal(pkt:sub(1, 30), b[3].data)
  end)

  it("taps a link: records what passes and forwards it", function()
    local p = assert(C.tl_pcap_open(path))
    local tap = ffi.new("tl_pcap_tap")
    local got = {}
    local next_fn = ffi.cast("tl_output_fn", function(_, pkt, len)
      got[#got + 1] = ffi.string(pkt, len)
      return 0
    end)
    C.tl_pcap_tap_init(tap, p, next_fn, nil)
    C.tl_pcap_tap_now(tap, 1234)
    local pkt = tcp_packet("10.77.0.2", "10.77.0.1", 7, 40000, 1, 2, 0x10, "")
    assert.equal(0, C.tl_pcap_tap_output(tap, ffi.cast("const uint8_t *", pkt), #pkt))
    next_fn:free()
    assert.equal(0, C.tl_pcap_close(p))
    assert.same({ pkt }, got)
    local b = read_pcapng(path)
    assert.equal(1234, b[3].ts)
    assert.equal(2, b[3].flags)
  end)

  it("pads odd sizes, keeps empty packets and cuts overlong comments", function()
    local p = assert(C.tl_pcap_open(path))
    local long = string.rep("c", 5000)
    assert.equal(0, C.tl_pcap_write(p, nil, 0, 1, C.TL_PCAP_DIR_IN, "empty"))
    assert.equal(0, C.tl_pcap_write(p, ffi.cast("const uint8_t *", "abc"), 3, 2, C.TL_PCAP_DIR_UNKNOWN, long))
    assert.equal(2, tonumber(C.tl_pcap_count(p)))
    assert.equal(0, C.tl_pcap_close(p))
    local b = read_pcapng(path)
    assert.equal("", b[3].data)
    assert.equal("empty", b[3].comment)
    assert.equal("abc", b[4].data)
    assert.is_nil(b[4].flags)
    assert.equal(4096, #b[4].comment)
  end)

  it("reports a write that did not reach the disk", function()
    local f = io.open("/dev/full", "wb")
    if not f then
      pending("no /dev/full here")
      return
    end
    f:close()
    local cap = assert(pcap.open("/dev/full"))
    -- Buffered: the failure shows at the latest when the buffer is flushed.
    local pkt = string.rep("x", 1500)
    local failed = false
    for i = 1, 100 do
      if not cap:write(pkt, i, "out") then failed = true break end
    end
    -- Once a write failed, close says so too: the error sticks.
    local ok, err = cap:close()
    assert.is_nil(ok)
    assert.matches("write failed on /dev/full", err)
    assert.is_true(failed, "a 150 KB capture into /dev/full should fail before close")
  end)

  it("reports a file it cannot create", function()
    local cap, err = pcap.open("/nonexistent-dir/x.pcapng")
    assert.is_nil(cap)
    assert.matches("cannot open /nonexistent%-dir/x.pcapng: No such file", err)
    assert.is_true(C.tl_pcap_open(nil) == nil)
  end)

  it("refuses writes after close", function()
    local cap = assert(pcap.open(path))
    assert(cap:close())
    local ok, err = cap:write("x", 0, "in")
    assert.is_nil(ok)
    assert.matches("closed", err)
  end)

  it("is read by tshark with no malformed packet, comments and directions shown", function()
    if not have_tshark() then
      pending("tshark not installed (apt-get install tshark)")
      return
    end
    write_sample()
    local out = tshark("-r " .. path)
    assert.matches("rc=0", out)
    assert.not_matches("[Mm]alformed", out)
    local malformed = tshark("-r " .. path .. " -Y _ws.malformed")
    assert.equal("rc=0\n", malformed)
    local fields = tshark("-r " .. path .. " -T fields -E separator=, -e frame.comment -e tcp.flags.str -e tcp.len"
      .. " -e frame.packet_flags_direction")
    local lines = {}
    for l in fields:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(7, #lines) -- 6 packets and rc=0
    assert.matches("^dropped by fault: loss,", lines[4])
    assert.matches(",5,", lines[4])
    assert.matches("^retransmission,", lines[5])
    assert.matches("^,", lines[1]) -- no comment
    assert.matches(",0x0*1$", lines[1]) -- inbound
    assert.matches(",0x0*2$", lines[2]) -- outbound
    -- Timestamps survive: the retransmission is 200 ms after the original.
    local ts = tshark("-r " .. path .. " -T fields -e frame.time_relative")
    local t = {}
    for l in ts:gmatch("[%d.]+\n") do t[#t + 1] = tonumber(l) end
    assert.is_true(math.abs(t[5] - t[4] - 0.2) < 1e-6)
  end)

  it("records the engine's own handshake, with a fault dropping its first SYN", function()
    local pkt = require "helpers.tcppkt"
    local trace = require "tcplua.trace"
    local peer = pkt.peer { seed = 3 }
    local f = fault.new(9)
    local policy = f.when({ flags = "S" }, f.drop_first(1))
    local cap = assert(pcap.open(path))
    local lines = {}
    local err = ffi.new("int[1]")
    local s = C.tl_connect(peer.st, core.ip(peer.peer_addr), 80, 0, peer:now(), err)
    assert(s ~= nil, "tl_connect: " .. err[0])
    local T0 = 1700000000 * 1000000
    local function record(p, dir, v)
      local ms = peer:now() / 1000
      assert(cap:write(p.raw or p, T0 + peer:now(), dir, pcap.comment(v)))
      lines[#lines + 1] = trace.format(p, dir, nil, v)
      return ms
    end
    -- The first SYN is lost to the fault; the engine retransmits it (RFC 6298 5.5).
    local syn1 = assert(peer:expect(100000), "no SYN")
    local v1 = fault.normalize(policy(syn1, "out", nil, peer:now() / 1000))
    assert.is_true(v1.drop)
    local t1 = record(syn1, "out", v1)
    local syn2 = assert(peer:expect(5000000), "no SYN retransmission")
    assert.equal("S", syn2.flags)
    assert.equal(syn1.seq, syn2.seq)
    assert.is_nil(policy(syn2, "out", nil, peer:now() / 1000))
    local t2 = record(syn2, "out")
    local bytes = peer:send { sport = 80, dport = syn2.sport, seq = 7000, ack = syn2.seq + 1, flags = "S.", mss = 1460 }
    local synack = assert(pkt.parse(bytes))
    synack.raw = bytes
    record(synack, "in")
    local ack = assert(peer:expect(100000), "no ACK of the SYN-ACK")
    assert.equal(".", ack.flags)
    record(ack, "out")
    assert(cap:close())
    assert.is_true(t2 - t1 >= 900, "SYN retransmitted after " .. (t2 - t1) .. " ms")
    assert.matches("Flags %[S%].*%[dropped by fault: drop_first%]$", lines[1])
    assert.matches("Flags %[S%.%]", lines[3])

    local b = read_pcapng(path)
    assert.equal(6, #b)
    assert.equal("dropped by fault: drop_first", b[3].comment)
    assert.is_nil(b[4].comment)
    if not have_tshark() then
      pending("tshark not installed: the file was checked block by block only")
      return
    end
    assert.equal("rc=0\n", tshark("-r " .. path .. " -Y _ws.malformed"))
    local out = tshark("-r " .. path .. " -T fields -E separator=, -e tcp.flags.str -e frame.comment")
    assert.matches("^[^\n]*S[^\n]*,dropped by fault: drop_first\n", out)
    assert.matches("rc=0", out)
  end)
end)
