-- The C side of the hooks (core/link/hook.c, core/include/api_hook.h) and the pieces
-- the runner builds on: checksum repair, fault notes, the impairment's
-- reports and size limit, the segment view and builder, and the
-- command-line flags that reach them.
local core = require "tcplua.core"
local segview = require "tcplua.segview"
local netns = require "helpers.netns"
local C, ffi = core.C, core.ffi

local function build(t)
  local buf = ffi.new("uint8_t[65536]")
  local n = segview.build(t, buf)
  return buf, n
end

local SEG = { src = "10.0.0.2", dst = "10.0.0.1", sport = 40000, dport = 7, seq = 1000, ack = 5,
  flags = "P.", win = 512, payload = "hello", options = { ts = { 7, 9 } } }

describe("segment builder and view", function()
  it("builds a datagram whose checksums verify, and reads it back", function()
    local buf, n = build(SEG)
    assert.are.equal(20 + 20 + 12 + 5, n)
    assert.are.equal(0, C.tl_csum(buf, 20)) -- IPv4 header checksum (RFC 791)
    local h = ffi.new("struct tl_tcp_hdr")
    assert.are.equal(0, C.tl_tcp_parse(buf + 20, n - 20, core.ip(SEG.src), core.ip(SEG.dst), h))
    local st = C.tl_stack_new(nil, nil, nil)
    C.tl_hook_enable(st, C.TL_HOOK_IN)
    C.tl_stack_input(st, buf, n, 0)
    assert.are.equal(1, C.tl_hook_pending(st))
    local seg = C.tl_hook_next(st)
    local v = segview.view(seg)
    for _, k in ipairs({ "src", "dst", "sport", "dport", "seq", "ack", "flags", "win", "payload" }) do
      assert.are.equal(SEG[k], v[k], k)
    end
    assert.are.equal(5, v.len)
    assert.are.same({ 7, 9 }, v.options.ts)
    assert.are.equal(0x18, v.bits)
    C.tl_hook_release(st, seg, 0, 0, "dropped by test", 0)
    assert.are.equal(1, core.stats(st).hook_dropped)
    assert.are.equal(0, C.tl_hook_pending(st))
    C.tl_stack_free(st)
  end)

  it("tl_hook_fix_checksums repairs both checksums after a field write", function()
    local buf, n = build(SEG)
    buf[20 + 15] = 99 -- window low byte
    buf[8] = 3        -- TTL
    local h = ffi.new("struct tl_tcp_hdr")
    assert.are.equal(C.TL_TCP_ECSUM, C.tl_tcp_parse(buf + 20, n - 20, core.ip(SEG.src), core.ip(SEG.dst), h))
    assert.are_not.equal(0, C.tl_csum(buf, 20))
    C.tl_hook_fix_checksums(buf, n)
    assert.are.equal(0, C.tl_csum(buf, 20))
    assert.are.equal(0, C.tl_tcp_parse(buf + 20, n - 20, core.ip(SEG.src), core.ip(SEG.dst), h))
  end)

  it("rejects a write to an unknown field", function()
    local buf, n = build(SEG)
    local st = C.tl_stack_new(nil, nil, nil)
    C.tl_hook_enable(st, C.TL_HOOK_IN)
    C.tl_stack_input(st, buf, n, 0)
    local seg = C.tl_hook_next(st)
    local v = segview.view(seg)
    assert.has_error(function() v.len = 3 end)
    v.win = 7
    assert.are.equal(7, v.win)
    assert.is_true(v._dirty)
    C.tl_hook_release(st, seg, 1, 0, nil, 0)
    C.tl_stack_free(st)
  end)
end)

describe("hook queue", function()
  it("holds SYNs only in accept-filter mode", function()
    local st = C.tl_stack_new(nil, nil, nil)
    C.tl_hook_enable(st, C.TL_HOOK_SYN_IN)
    local buf, n = build(SEG)
    C.tl_stack_input(st, buf, n, 0)
    assert.are.equal(0, C.tl_hook_pending(st))
    local syn = {}
    for k, x in pairs(SEG) do syn[k] = x end
    syn.flags, syn.payload = "S", ""
    buf, n = build(syn)
    C.tl_stack_input(st, buf, n, 0)
    assert.are.equal(1, C.tl_hook_pending(st))
    assert.are.equal(1, C.tl_stack_pending_events(st))
    C.tl_hook_release(st, C.tl_hook_next(st), 1, 0, nil, 0)
    C.tl_stack_free(st)
  end)

  it("delays a released segment: its due time is the stack's deadline", function()
    local st = C.tl_stack_new(nil, nil, nil)
    C.tl_hook_enable(st, C.TL_HOOK_IN)
    local buf, n = build(SEG)
    C.tl_stack_input(st, buf, n, 1000)
    local seg = C.tl_hook_next(st)
    local before = core.stats(st).ip_in
    C.tl_hook_release(st, seg, 2, 5000, "fault: delay", 1000)
    assert.are.equal(6000, tonumber(C.tl_stack_deadline(st)))
    C.tl_stack_poll(st, 5999)
    assert.are.equal(before, core.stats(st).ip_in)
    C.tl_stack_poll(st, 6000)
    local s = core.stats(st)
    assert.are.equal(before + 2, s.ip_in) -- delivered twice (duplicate)
    assert.are.equal(1, s.hook_delayed)
    assert.are.equal(1, s.hook_duplicated)
    C.tl_stack_free(st)
  end)

  it("takes a datagram read into the lent buffer without copying it", function()
    local st = C.tl_stack_new(nil, nil, nil)
    assert.is_true(C.tl_hook_rx_buf(st, 2048) == nil) -- no hooks: use your own buffer
    C.tl_hook_enable(st, C.TL_HOOK_IN)
    local rx = C.tl_hook_rx_buf(st, 2048)
    assert.is_false(rx == nil)
    local buf, n = build(SEG)
    ffi.copy(rx + 10, buf, n) -- as a read(2) after a 10-byte link header
    C.tl_stack_input(st, rx + 10, n, 0)
    local seg = C.tl_hook_next(st)
    assert.is_true(seg.pkt == rx + 10)
    assert.are.equal("hello", segview.view(seg).payload)
    C.tl_hook_release(st, seg, 1, 0, nil, 0)
    assert.are.equal(1, core.stats(st).ip_in)
    C.tl_stack_free(st)
  end)

  -- Found by fuzz/fuzz_input.c: an empty datagram took a fresh slot with no
  -- buffer yet, and the copy into it was memcpy(NULL, p, 0), undefined
  -- behaviour that the SANITIZE=1 build stops on.
  it("holds an empty datagram and drops it as short once released", function()
    local st = C.tl_stack_new(nil, nil, nil)
    C.tl_hook_enable(st, bit.bor(C.TL_HOOK_IN, C.TL_HOOK_OUT))
    local buf = ffi.new("uint8_t[1]")
    C.tl_stack_input(st, buf, 0, 0)
    local seg = C.tl_hook_next(st)
    assert.is_false(seg == nil)
    assert.are.equal(0, seg.len)
    assert.is_false(seg.pkt == nil)
    C.tl_hook_release(st, seg, 1, 0, nil, 0)
    assert.are.equal(1, core.stats(st).drop_ip_short)
    C.tl_stack_free(st)
  end)

  it("inject validates its input", function()
    local st = C.tl_stack_new(nil, nil, nil)
    local buf = ffi.new("uint8_t[10]")
    assert.are.equal(C.TL_EINVAL, C.tl_hook_inject(st, 1, buf, 10, 0, nil, 0))
    assert.are.equal(C.TL_EINVAL, C.tl_hook_inject(st, 3, buf, 10, 0, nil, 0))
    C.tl_stack_free(st)
  end)
end)

describe("impairment reports", function()
  it("names the faults of a packet", function()
    local b = ffi.new("char[128]")
    assert.are.equal("", ffi.string(C.tl_fault_note(0, b, 128)))
    assert.are.equal("dropped by fault: loss (link impairment)", ffi.string(C.tl_fault_note(C.TL_FAULT_LOSS, b, 128)))
    assert.are.equal("fault: duplicate+delay (link impairment)",
      ffi.string(C.tl_fault_note(C.TL_FAULT_DUP + C.TL_FAULT_DELAY, b, 128)))
  end)

  it("size_limit drops larger datagrams and counts them", function()
    local cfg = ffi.new("tl_impair_config", { size_limit = 100 })
    local im = C.tl_impair_new(cfg, 1, nil, nil)
    local big, small = ffi.new("uint8_t[200]"), ffi.new("uint8_t[50]")
    C.tl_impair_push(im, big, 200, 0)
    C.tl_impair_push(im, small, 50, 0)
    assert.are.equal(1, tonumber(C.tl_impair_count(im, 7)))
    assert.are.equal(1, tonumber(C.tl_impair_count(im, 1)))
    C.tl_impair_free(im)
  end)

  it("the stack-side impairment drops with a pcap note and counts", function()
    local st = C.tl_stack_new(nil, nil, nil)
    local cfg = ffi.new("tl_impair_config", { loss = 1 })
    assert.are.equal(0, C.tl_hook_set_impair(st, cfg, 1))
    local path = os.tmpname()
    local cap = assert(require("tcplua.pcap").open(path))
    C.tl_hook_set_pcap(st, cap.p)
    local buf, n = build(SEG)
    C.tl_stack_input(st, buf, n, 0)
    C.tl_hook_set_pcap(st, nil)
    assert.are.equal(1, cap:count())
    cap:close()
    local f = io.open(path, "rb")
    local bytes = f:read("*a")
    f:close()
    os.remove(path)
    assert.truthy(bytes:find("dropped by fault: loss (link impairment)", 1, true))
    assert.are.equal(1, core.stats(st).impair_dropped)
    assert.are.equal(0, core.stats(st).ip_in)
    assert.is_not_nil(C.tl_hook_impair(st, 0))
    C.tl_stack_free(st)
  end)
end)

describe("command line", function()
  local function run(args)
    return netns.sh("env -u LD_PRELOAD -u TCPLUA_LIB " .. netns.quote(netns.bin) .. " " .. args)
  end

  it("documents and checks --size-limit, --pcap, --trace and --tseq", function()
    local out = run("--help")
    for _, flag in ipairs({ "%-%-size%-limit", "%-%-pcap", "%-%-trace", "%-%-tseq" }) do
      assert.matches(flag, out)
    end
    local o, rc = run("--size-limit 10 x.lua")
    assert.equal(2, rc)
    assert.matches("%-%-size%-limit: bad value", o)
    o, rc = run("--size-limit abc x.lua")
    assert.equal(2, rc)
    o, rc = run("--pcap")
    assert.equal(2, rc)
  end)
end)
