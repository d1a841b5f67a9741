-- Writes the fuzzers' seed corpora: fuzz/seeds/input/*.bin in the operation
-- format fuzz_input.c reads (a config byte, then op records), and
-- fuzz/seeds/wire/*.bin (bare TCP headers for fuzz_tcp_wire.c). Run from the
-- repo root after `make`: luajit fuzz/gen_seeds.lua fuzz/seeds
package.path = "lua/?.lua;build/lua/?.lua;spec/?.lua;" .. package.path
local pkt = require "helpers.tcppkt"

local dir = assert(arg[1], "usage: gen_seeds.lua DIR")

-- fuzz_input.c: enum op, config bits, op flags
local OP = { DGRAM = 0, APP = 1, SETOPT = 2, TIME = 3, HOOK = 4, INJECT = 5, IMPAIR = 6, PCAP = 7, ICMP = 8,
  B = 9, LATENCY = 10, BATCH = 11, WHEEL = 12, ASM = 13, REPLY = 14, NETEM = 15 }
local CF = { OFFLOAD = 1, PCAP = 2, NO_TS = 4, NO_SACK = 8, SMALL_MTU = 16, SMALL_BUF = 32, HOOKS = 64,
  NO_LOSS = 128 }
local JUMP, FIX, SEQ, ADDR = 1, 2, 4, 8 -- OP_DGRAM flags (high nibble of the op byte)
local PARTIAL, RXBUF, VIA_SIM, RXBATCH = 16, 32, 64, 128 -- OP_DGRAM's second byte, above the socket number
-- OP_APP actions
local A = { SEND = 0, SEND_LOTS = 1, SEND_REF = 2, URGENT = 3, SHUTDOWN = 4, CLOSE = 5, ABORT = 6, RECV = 7,
  CONNECT_RAW = 8, CONNECT_B = 9, AUTOREAD = 10, TX_BATCH = 11, INFO = 12, URGENT_BIG = 13, LISTENER = 14,
  USER = 15, MISUSE = 16, ODD_CONNECT = 17, SECOND_LISTENER = 18, MANY = 19, SOCKET = 20, PEEK = 21, FIND = 22,
  SHUT_RD = 23 }
-- OP_B actions
local B = { SEND = 0, SHUTDOWN = 1, CLOSE = 2, ABORT = 3, SMALL_RCVBUF = 4, URGENT = 5, CC = 6, CONNECT = 7 }
-- OP_HOOK verdict bits (copies in the low 2)
local V = { DELAY = 4, MODIFY = 8, SET_BYTES = 16, NOTE = 32, LOOKUP_FIX = 64 }
-- tl_opt
local OPT = { NODELAY = 1, SNDBUF = 2, RCVBUF = 3, KEEPALIVE = 4, KEEPIDLE_MS = 5, KEEPINTVL_MS = 6, KEEPCNT = 7,
  BACKLOG = 8, MSS = 9, LINGER_MS = 10, USER_TIMEOUT_MS = 11, CONGESTION = 12, RECOVERY = 13, SYNCOOKIES = 14,
  TIMESTAMPS = 20, SACK = 21, WSCALE = 22, CORK = 23, NOTSENT_LOWAT = 24 }

local PEER, SELF = "10.77.0.1", "10.77.0.2"

local function u8(v) return string.char(v % 256) end
local function be16(v) return string.char(math.floor(v / 256) % 256, v % 256) end
local function be24(v) return u8(math.floor(v / 65536)) .. be16(v % 65536) end
local function op(kind, flags) return u8(kind + 16 * (flags or 0)) end

-- A datagram into A: bytes, then pad*256 filler bytes.
local function dgram(bytes, flags, x, pad)
  assert(#bytes < 65536)
  return op(OP.DGRAM, flags) .. u8(x or 0) .. be16(#bytes) .. u8(pad or 0) .. bytes
end
-- A segment on A's socket `sel` (0: the handshake's connection): addresses,
-- ports and windows patched in; seq's low byte is the signed offset from
-- RCV.NXT, ack is SND.NXT minus the ack field modulo the flight (0: all),
-- or with the top bit SND.UNA plus the rest (DUPACK: a duplicate ACK).
local DUPACK = 0x80000000
local function seg(t, sel, x, pad, flags)
  t.src, t.dst = t.src or PEER, t.dst or SELF
  t.sport, t.dport = t.sport or 40000, t.dport or 7
  t.seq = t.seq or 0
  t.ack = t.ack or 0
  t.win = t.win or 512
  if t.ts == nil then t.ts = { 1000, 1 } end -- the connection uses timestamps: PAWS wants them
  if t.ts == false then t.ts = nil end
  return dgram(pkt.build(t), flags or (ADDR + SEQ), (x or 0) + (sel or 0), pad)
end
local function raw(bytes, flags) return dgram(bytes, flags or 0, 0, 0) end
local function app(action, sel, param) return op(OP.APP) .. u8(sel or 0) .. u8(action) .. u8(param or 0) end
local function setopt(opt, val, sel) return op(OP.SETOPT) .. u8(sel or 0) .. u8(opt) .. be24(val) end
local function time(exp) return op(OP.TIME) .. u8(exp) end -- runs the sim 2^exp us
local function verdict(how, delay, off, val) return u8(how) .. u8(delay or 0) .. u8(off or 0) .. u8(val or 0) end
local function hook(mask, verdicts)
  return op(OP.HOOK) .. u8(mask) .. u8(#(verdicts or {})) .. table.concat(verdicts or {})
end
local function inject(x, bytes, flags) return op(OP.INJECT, flags) .. u8(x) .. be16(#bytes) .. u8(0) .. bytes end
-- where: 0 A's boundary (tl_hook_set_impair), 1 sim A, 2 sim raw, 3 sim B, 4 sim all, 5 off
local function impair(where, t)
  t = t or {}
  return op(OP.IMPAIR) .. u8(where) .. u8(t.loss or 0) .. u8(t.dup or 0) .. u8(t.reorder or 0)
    .. u8(t.corrupt or 0) .. u8(t.delay or 0) .. u8(t.jitter or 0) .. u8(t.gap or 0) .. u8(t.rate or 0)
    .. u8(t.queue or 0) .. u8(t.size or 0) .. u8(t.seed or 1)
end
-- netem's knobs: t as impair's plus model (0 random, 1 state, 2 gemodel),
-- p = { 5 bytes }, corr = { loss, dup, corrupt, reorder, delay }, dist,
-- ovh, cell, covh, smin, smax, sdist, spk, sbytes (bytes of fuzz_input.c's
-- netem_config); or words: a tc-netem line for tl_impair_parse
local function netem(where, t, seed)
  t = t or {}
  if t.words then return op(OP.NETEM) .. u8(where) .. u8(1 + 2 * (seed or 1)) .. u8(#t.words) .. t.words end
  local p, c = t.p or {}, t.corr or {}
  local s = op(OP.NETEM) .. u8(where) .. u8(2 * (seed or 1)) .. u8(t.loss or 0) .. u8(t.dup or 0)
    .. u8(t.reorder or 0) .. u8(t.corrupt or 0) .. u8(t.delay or 0) .. u8(t.jitter or 0) .. u8(t.gap or 0)
    .. u8(t.rate or 0) .. u8(t.queue or 0) .. u8(t.size or 0) .. u8(t.model or 0)
  for i = 1, 5 do s = s .. u8(p[i] or 0) end
  for i = 1, 5 do s = s .. u8(c[i] or 0) end
  return s .. u8(t.dist or 0) .. u8(t.ovh or 0) .. u8(t.cell or 0) .. u8(t.covh or 0) .. u8(t.smin or 0)
    .. u8(t.smax or 0) .. u8(t.sdist or 0) .. u8(t.spk or 0) .. u8(t.sbytes or 0)
end
local function pcap(b) return op(OP.PCAP) .. u8(b) end
local function icmp(sel, type, code, mtu, seqoff, q, flags)
  return op(OP.ICMP, flags or 1) .. u8(sel) .. u8(type) .. u8(code) .. be16(mtu or 0) .. be16((seqoff or 0) % 65536)
    .. u8(q or 0)
end
local function bapp(action, sel, param) return op(OP.B) .. u8(sel or 0) .. u8(action) .. u8(param or 0) end
local function latency(b) return op(OP.LATENCY) .. u8(b) end
local function batch(on) return op(OP.BATCH) .. u8(on and 1 or 0) end
local function cfg(bits) return u8(bits or 0) end
-- [n][n x (kind|entry, 16-bit time)]: schedule (kind < 0x80; +0x40 in the
-- past), cancel (0xc0) or expire after advancing (0x80); the time shift is
-- bits 4-6 times 3
local function wheel(steps)
  local t = {}
  for _, s in ipairs(steps) do t[#t + 1] = u8(s[1]) .. be16(s[2]) end
  return op(OP.WHEEL) .. u8(#steps) .. be16(1) .. table.concat(t)
end

-- Raw IPv4 datagram with a given payload and fragment field.
local function ipraw(proto, payload, id, frag, mf)
  local total = 20 + #payload
  local ff = math.floor(frag / 8) + (mf and 0x2000 or 0)
  local h = "\69\0" .. be16(total) .. be16(id) .. be16(ff) .. "\64" .. string.char(proto)
  local addrs = string.char(10, 77, 0, 1, 10, 77, 0, 2)
  local sum = pkt.csum(h .. "\0\0" .. addrs)
  return h .. be16(sum) .. addrs .. payload
end

local syn = { src = PEER, dst = SELF, sport = 40005, dport = 7, flags = "S", mss = 1460 }
local ping = ipraw(1, (function()
  local body = "\8\0\0\0\0\1\0\1" .. "ping"
  local s = pkt.csum(body)
  return body:sub(1, 2) .. be16(s) .. body:sub(5)
end)(), 5, 0, false)
local ack = seg { flags = "." }

local seeds = {
  -- the input path, as before
  data = cfg() .. seg { flags = "P.", data = "hello from the peer\n", ts = { 100, 1 } },
  fin = cfg() .. seg { flags = "F.", ts = { 101, 1 } },
  rst = cfg() .. seg { flags = "R" },
  rst_ack = cfg() .. seg { flags = "R.", seq = 5 },
  syn_on_conn = cfg() .. seg { flags = "S", mss = 1000 },
  ooo = cfg() .. seg { flags = "P.", seq = 50, data = ("o"):rep(40) } .. seg { flags = "P.", seq = 0, data = ("i"):rep(50) },
  sack = cfg() .. seg { flags = ".", ts = { 5, 1 }, sack = { { 1, 2 }, { 10, 20 } } },
  zero_window = cfg() .. seg { flags = ".", win = 0 } .. time(21) .. seg { flags = ".", win = 100 },
  new_syn = cfg() .. raw(pkt.build { src = PEER, dst = SELF, sport = 40001, dport = 7, seq = 77, flags = "S",
    mss = 1460, wscale = 14, sackok = true, ts = { 9, 0 } }),
  closed_port = cfg() .. raw(pkt.build { src = PEER, dst = SELF, sport = 40002, dport = 9, seq = 5, flags = "S" }),
  bad_csum = cfg() .. raw(pkt.build { src = PEER, dst = SELF, sport = 40003, dport = 7, flags = "S", bad_csum = true }),
  unknown_opt = cfg() .. raw(pkt.build { src = PEER, dst = SELF, sport = 40004, dport = 7, flags = "S",
    opts = "\254\6abcd" }),
  fragments = cfg() .. raw(ipraw(6, pkt.segment(syn):sub(1, 16), 99, 0, true))
    .. raw(ipraw(6, pkt.segment(syn):sub(17), 99, 16, false)),
  ping = cfg() .. raw(ping),
  timeouts = cfg() .. seg { flags = "P.", data = "x" } .. time(21) .. time(21) .. ack,
  fix_only = cfg() .. raw(pkt.build { src = PEER, dst = SELF, sport = 40006, dport = 7, flags = "S", csum = 0 }, FIX),
  active_close = cfg() .. app(A.SEND) .. ack .. app(A.SHUTDOWN) .. ack .. seg { flags = "F." } .. time(26),
  passive_close = cfg() .. seg { flags = "F." } .. app(A.CLOSE) .. time(21),
  bulk = cfg() .. app(A.SEND_LOTS, 0, 16) .. ack .. seg { flags = ".", sack = { { 3000, 5000 } } } .. ack .. ack
    .. time(21) .. ack,
  small_window = cfg() .. setopt(OPT.RCVBUF, 2048) .. seg { flags = "P.", data = ("w"):rep(1400) }
    .. setopt(OPT.NODELAY, 1),
}
-- tl_connect from port 41000 to the raw peer's 9999 (A's socket 1)
local function active(t)
  t.sport, t.dport = 9999, 41000
  return seg(t, 1)
end
seeds.active_open = cfg() .. app(A.CONNECT_RAW) .. active { flags = "S.", mss = 1200, wscale = 2, sackok = true,
  ts = { 7, 0 } } .. active { flags = "P.", data = "welcome" } .. time(21) .. active { flags = "F." }
seeds.active_refused = cfg() .. app(A.CONNECT_RAW) .. time(21) .. active { flags = "R." }
seeds.sequence = cfg() .. table.concat({ seeds.data:sub(2), seeds.ooo:sub(2), seeds.sack:sub(2), seeds.new_syn:sub(2),
  seeds.ping:sub(2), seeds.timeouts:sub(2), seeds.fin:sub(2) })

-- segment hooks: every verdict (drop, pass, copies, delay, rewrite, resize,
-- note, lookup), the accept filter, the zero-copy read, injection
local all_verdicts = {
  verdict(1), verdict(0), verdict(3), verdict(1 + V.DELAY, 30), verdict(1 + V.MODIFY + V.LOOKUP_FIX, 0, 33, 0x40),
  verdict(1 + V.SET_BYTES, 0, 0, 100), verdict(1 + V.SET_BYTES + V.LOOKUP_FIX, 0, 0, 130),
  verdict(2 + V.NOTE + V.LOOKUP_FIX),
}
seeds.hooks_pass = cfg(CF.HOOKS) .. app(A.SEND) .. ack .. seg { flags = "P.", data = "through the hooks" }
seeds.hook_verdicts = cfg() .. hook(3, all_verdicts) .. app(A.SEND_LOTS, 0, 4) .. ack .. ack
  .. seg { flags = "P.", data = "held" } .. time(20) .. ack .. time(22)
seeds.hook_syn_filter = cfg() .. hook(4, { verdict(0), verdict(1) }) .. seeds.new_syn:sub(2)
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 40011, dport = 7, seq = 7, flags = "S", mss = 1460 })
seeds.hook_rxbuf = cfg() .. hook(1, { verdict(1), verdict(1 + V.MODIFY, 0, 50, 1) })
  .. seg({ flags = "P.", data = "zero copy" }, 0, RXBUF) .. seg({ flags = "P.", data = "again" }, 0, RXBUF)
seeds.hook_inject = cfg() .. inject(0, pkt.build { src = PEER, dst = SELF, sport = 40000, dport = 7, flags = "." },
  ADDR + SEQ) .. inject(4 * 5, pkt.build { src = PEER, dst = SELF, sport = 40000, dport = 7, flags = "P.",
    data = "late" }, ADDR + SEQ) .. inject(1, ping) .. time(16)

-- impairment at A's boundary and on the sim's links, with B as a real peer
local lossy = { loss = 40, dup = 20, reorder = 60, delay = 10, jitter = 10, gap = 2, rate = 100, queue = 8, seed = 3 }
seeds.impair_hook = cfg() .. impair(0, lossy) .. app(A.SEND_LOTS, 0, 8) .. ack .. ack .. time(20) .. ack .. time(22)
seeds.impair_limits = cfg() .. impair(0, { size = 20, rate = 1, queue = 1 }) .. app(A.SEND_LOTS, 0, 4) .. ack
  .. impair(0, { corrupt = 200 }) .. app(A.SEND, 0, 10) .. time(19)
seeds.sim_bulk = cfg() .. app(A.CONNECT_B, 0, 0) .. time(14) .. app(A.SEND_LOTS, 1, 63) .. impair(1, lossy)
  .. time(18) .. time(20) .. time(22) .. impair(3, { loss = 60, reorder = 30 }) .. bapp(B.SEND, 0, 63) .. time(22)
  .. impair(5) .. time(23)
seeds.sim_b_connects = cfg() .. bapp(B.CONNECT) .. time(14) .. bapp(B.SEND, 0, 20) .. time(16)
  .. bapp(B.URGENT, 0, 9) .. bapp(B.SHUTDOWN) .. time(16) .. app(A.CLOSE, 1) .. time(20)
seeds.sim_persist = cfg() .. app(A.CONNECT_B) .. time(14) .. bapp(B.SMALL_RCVBUF, 0, 1) .. app(A.AUTOREAD)
  .. app(A.SEND_LOTS, 1, 63) .. time(22) .. time(24) .. time(26) .. bapp(B.CC, 0, 0) .. latency(200) .. time(26)
seeds.sim_all = cfg() .. impair(4, { loss = 10, delay = 4 }) .. app(A.CONNECT_B) .. time(16) .. app(A.SEND_LOTS, 1, 40)
  .. time(22) .. seg({ flags = "P.", data = "via the sim" }, 0, VIA_SIM) .. time(22)
-- netem's knobs at A's boundary and on the sim: 4-state and
-- Gilbert-Elliott loss, correlations, distributions, cells, slots; and
-- netem words, good and bad
seeds.netem_hook = cfg() .. netem(0, { model = 1, p = { 13, 77, 51, 102, 5 }, corr = { 0, 60, 0, 60, 128 },
    delay = 10, jitter = 8, dist = 3, rate = 100, ovh = 10, cell = 48, covh = 5, smin = 5, smax = 10, spk = 4 })
  .. app(A.SEND_LOTS, 0, 8) .. ack .. ack .. time(20) .. ack .. time(22)
seeds.netem_sim = cfg() .. app(A.CONNECT_B, 0, 0) .. time(14) .. netem(1, { model = 2, p = { 3, 77, 255, 0 },
    corr = { 0, 0, 0, 0, 64 }, delay = 4, jitter = 4, dist = 1, smin = 2, sdist = 1 + 4 * 3, sbytes = 40 })
  .. app(A.SEND_LOTS, 1, 63) .. time(20) .. netem(4, { words = "delay 2ms 1ms 25% distribution pareto loss 1% 50% "
    .. "rate 10mbit -20 53 5 slot distribution normal 1ms 1ms packets 3 bytes 4000" }) .. time(22)
  .. netem(4, { words = "loss state 200% 1% bogus" }) .. netem(5) .. time(23)

-- capture
seeds.pcap = cfg(CF.PCAP) .. app(A.SEND) .. ack .. impair(0, { loss = 100 }) .. app(A.SEND_LOTS, 0, 2) .. time(20)
  .. pcap(1 + 2) .. hook(3, { verdict(0), verdict(1 + V.NOTE) }) .. app(A.SEND_LOTS, 0, 2) .. pcap(0) .. pcap(1)

-- offload: TSO through the scatter output, the autocork, rx batching,
-- GRO-sized datagrams with partial checksums
seeds.offload = cfg(CF.OFFLOAD + CF.PCAP) .. app(A.CONNECT_B) .. time(14) .. app(A.SEND_LOTS, 1, 63)
  .. app(A.TX_BATCH, 1, 200) .. time(20) .. app(A.SEND_REF, 1, 255) .. time(22)
seeds.offload_raw = cfg(CF.OFFLOAD) .. app(A.SEND_LOTS, 0, 20) .. ack .. app(A.TX_BATCH, 0, 100) .. ack .. time(20)
seeds.gro = cfg() .. seg({ flags = "P.", data = "GRO" }, 0, PARTIAL, 63)
  .. seg({ flags = "P.", data = "GRO64K" }, 0, PARTIAL, 255) .. seg({ flags = ".", data = "nocsum", csum = 0 }, 0,
    PARTIAL, 4, SEQ + ADDR)
seeds.gro_hooks = cfg(CF.HOOKS) .. seg({ flags = "P.", data = "held GRO" }, 0, PARTIAL + RXBUF, 100)
  .. hook(1, { verdict(1 + V.MODIFY, 0, 60, 3) }) .. seg({ flags = "P.", data = "rewritten" }, 0, PARTIAL, 8)
seeds.rx_batch = cfg() .. batch(true) .. seg({ flags = "P.", data = "one" }, 0, RXBATCH)
  .. seg({ flags = "P.", seq = 3, data = "two" }, 0, RXBATCH) .. batch(false) .. time(18)

-- ICMP errors quoting live connections (RFC 5927, RFC 1191)
seeds.icmp_frag_needed = cfg() .. app(A.SEND_LOTS, 0, 4) .. icmp(0, 3, 4, 1000, 20) .. time(16)
  .. icmp(0, 3, 4, 60) .. icmp(0, 3, 4, 1400, 0, 1) .. time(30) .. time(30) .. ack
seeds.icmp_soft = cfg() .. app(A.SEND_LOTS, 0, 1) .. icmp(0, 3, 1, 0, 1) .. icmp(0, 11, 0, 0, 2, 1)
  .. icmp(0, 12, 0, 0, 0, 4) .. icmp(0, 3, 0, 0, -5) .. icmp(0, 3, 1, 0, 0, 2) .. icmp(0, 3, 1, 0, 0, 16)
  .. icmp(0, 3, 1, 0, 0, 8 + 32) .. time(14)
seeds.icmp_syn_sent = cfg() .. app(A.CONNECT_RAW) .. icmp(1, 3, 3, 0, 0) .. app(A.CONNECT_RAW) .. icmp(1, 3, 2)
  .. app(A.CONNECT_B, 0, 1) .. time(12) .. icmp(2, 3, 3)

-- lent and urgent sends, urgent data from the peer
seeds.lent = cfg() .. app(A.SEND_REF, 0, 10) .. app(A.SEND_REF, 0, 200) .. ack .. app(A.SEND_REF, 0, 1) .. ack
  .. app(A.CLOSE) .. time(20)
seeds.lent_abort = cfg() .. app(A.SEND_REF, 0, 50) .. app(A.ABORT)
seeds.urgent = cfg() .. app(A.URGENT, 0, 10) .. ack .. app(A.URGENT_BIG) .. ack
  .. seg { flags = "PU.", urg = 5, data = "urgent!" } .. seg { flags = "U.", urg = 3000 } .. app(A.RECV, 0, 1)
  .. app(A.INFO, 0, 33)

-- options and timers
seeds.keepalive = cfg() .. ack .. setopt(OPT.KEEPALIVE, 1) .. setopt(OPT.KEEPIDLE_MS, 1000)
  .. setopt(OPT.KEEPINTVL_MS, 500) .. setopt(OPT.KEEPCNT, 2) .. time(21) .. time(21) .. ack .. time(22) .. time(22)
seeds.user_timeout = cfg() .. setopt(OPT.USER_TIMEOUT_MS, 3000) .. setopt(OPT.LINGER_MS, 100) .. app(A.SEND_LOTS)
  .. time(22) .. time(22) .. app(A.CLOSE)
seeds.options = cfg() .. setopt(OPT.MSS, 536) .. setopt(OPT.CONGESTION, 0) .. app(A.SEND_LOTS, 0, 3) .. ack
  .. setopt(OPT.CONGESTION, 1) .. seg { flags = ".", sack = { { 2000, 3000 } } } .. ack .. ack .. ack
  .. setopt(OPT.SNDBUF, 3000) .. setopt(OPT.BACKLOG, 1) .. app(A.LISTENER) .. app(A.LISTENER, 0, 3)
seeds.small_world = cfg(CF.SMALL_MTU + CF.SMALL_BUF + CF.NO_TS + CF.NO_SACK) .. seeds.new_syn:sub(2)
  .. app(A.SEND_LOTS, 0, 2) .. ack .. seg { flags = "P.", data = ("s"):rep(500) } .. time(20)
seeds.no_loss_state = cfg(CF.NO_LOSS) .. app(A.SEND_LOTS, 0, 4) .. seg { flags = ".", sack = { { 1000, 2000 } } }
  .. seg { flags = "P.", seq = 40, data = "ooo" } .. ack .. time(21)

-- other protocols, ICMP, IPv4 options and reassembly
local function ipopt(proto, payload, opts)
  local ihl = 20 + #opts
  local h = string.char(64 + ihl / 4, 0) .. be16(ihl + #payload) .. be16(1) .. be16(0) .. "\64" .. string.char(proto)
  local addrs = string.char(10, 77, 0, 1, 10, 77, 0, 2)
  local sum = pkt.csum(h .. "\0\0" .. addrs .. opts)
  return h .. be16(sum) .. addrs .. opts .. payload
end
local function icmpmsg(type, code, rest)
  local body = string.char(type, code) .. "\0\0" .. rest
  return body:sub(1, 2) .. be16(pkt.csum(body)) .. body:sub(5)
end
local bigping = icmpmsg(8, 0, "\0\1\0\2" .. ("p"):rep(2992))
seeds.other_protocols = cfg() .. raw(ipraw(17, "\4\210\0\53\0\12\0\0dns?", 20, 0, false))
  .. raw(ipraw(99, "what is this", 21, 0, false)) .. raw(ipopt(6, pkt.segment(syn), "\1\1\1\0"))
  .. raw(ipopt(1, icmpmsg(8, 0, "\0\1\0\3opts"), "\7\7\4\0\0\0\0\0"))
  .. raw(ipraw(1, icmpmsg(0, 0, "\0\1\0\1"), 22, 0, false)) .. raw(ipraw(1, icmpmsg(5, 1, "\10\77\0\9"
    .. ipraw(6, "12345678", 1, 0, false)), 23, 0, false)) .. raw(ipraw(1, icmpmsg(4, 0, "\0\0\0\0"), 24, 0, false))
  .. raw(ipraw(1, "\8\0\0\0bad", 25, 0, false)) .. raw(ipraw(1, icmpmsg(3, 3, "\0\0\0\0" .. ipraw(17, "12345678",
    1, 0, false)), 26, 0, false))
seeds.reassembly = cfg() .. raw(ipraw(1, bigping:sub(1, 1480), 30, 0, true))
  .. raw(ipraw(1, bigping:sub(2961), 30, 2960, false)) .. raw(ipraw(1, bigping:sub(1481, 2960), 30, 1480, true))
  .. raw(ipraw(1, bigping:sub(1, 800), 31, 0, true)) .. raw(ipraw(1, bigping:sub(401, 1200), 31, 400, true))
  .. raw(ipraw(1, bigping:sub(1, 800), 31, 0, true)) .. raw(ipraw(1, bigping:sub(1201, 1208), 31, 1200, false))
  .. raw(ipraw(6, ("x"):rep(64), 32, 65000, true)) .. raw(ipraw(6, ("y"):rep(16), 33, 8, true)) .. time(27)
  .. time(27)
local flood = {}
for i = 1, 12 do
  flood[#flood + 1] = raw(pkt.build { src = PEER, dst = SELF, sport = 50000 + i, dport = 7, seq = 100 * i, flags = "S",
    mss = 1400, sackok = true, ts = { i, 0 } })
end
seeds.listener = cfg() .. table.concat(flood) .. time(20) .. time(21)
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 50001, dport = 7, seq = 101, ack = 1, flags = "R." })
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 50002, dport = 7, seq = 201, ack = 12345, flags = "." })
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 50100, dport = 7, seq = 9, flags = "SF", data = "syn data" })
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 50101, dport = 7, seq = 9, flags = "S", data = "syn data" })
  .. app(A.LISTENER) .. raw(pkt.build { src = PEER, dst = SELF, sport = 50003, dport = 7, seq = 5, flags = "S" })
  .. time(22) .. time(24)
seeds.newreno = cfg() .. app(A.CONNECT_B) .. time(14) .. setopt(OPT.CONGESTION, 1, 1) .. app(A.SEND_LOTS, 1, 63)
  .. impair(1, { loss = 50, reorder = 20, seed = 9 }) .. time(20) .. time(21) .. impair(5, {}) .. time(22)
  .. app(A.SEND_LOTS, 1, 63) .. time(23)
seeds.wheel = cfg() .. wheel { { 0x01, 5 }, { 0x12, 100 }, { 0x73, 9 }, { 0x44, 7 }, { 0x80, 3 }, { 0xc2, 0 },
  { 0x35, 0xffff }, { 0x96, 0x100 }, { 0xf0, 0xffff }, { 0x01, 0 }, { 0x80, 0 } }

seeds.api_misuse = cfg() .. app(A.MISUSE) .. app(A.ODD_CONNECT, 0, 0) .. app(A.ODD_CONNECT, 0, 1 + 8)
  .. app(A.ODD_CONNECT, 0, 2 + 32) .. app(A.ODD_CONNECT, 0, 3) .. app(A.ODD_CONNECT, 0, 4 + 16)
  .. app(A.ODD_CONNECT, 0, 5 + 8) .. app(A.SECOND_LISTENER, 0, 0) .. app(A.SECOND_LISTENER, 0, 1)
  .. app(A.SECOND_LISTENER, 0, 2) .. app(A.INFO, 1, 0)
seeds.many = cfg() .. app(A.MANY, 0, 11) .. time(14) .. app(A.MANY, 0, 10) .. time(20) .. app(A.INFO, 3, 0)
  .. app(A.ABORT, 2) .. app(A.CLOSE, 5) .. time(22)

-- the state machine: segments in every state (RFC 9293 3.10.7)
local function peer(t, sport)
  t.sport = sport
  t.src, t.dst, t.dport = PEER, SELF, 7
  return raw(pkt.build(t))
end
seeds.syn_sent = cfg() .. app(A.CONNECT_RAW) .. active { flags = "R" } .. active { flags = ".", ack = 5 }
  .. active { flags = "S", ts = false } .. active { flags = "S.", ack = 7 } .. active { flags = "SR." }
  .. active { flags = "S.", mss = 536, ts = false, data = "early" } .. active { flags = "FP.", data = "x" }
seeds.syn_received = cfg() .. peer({ flags = "S", seq = 500, mss = 1200, ts = { 50, 0 }, sackok = true }, 40020)
  .. peer({ flags = "R", seq = 501 }, 40020) .. peer({ flags = "S", seq = 600, mss = 1200 }, 40021)
  .. peer({ flags = ".", seq = 601, ack = 12345 }, 40021) .. peer({ flags = "S", seq = 600, mss = 1200 }, 40021)
  .. peer({ flags = "F", seq = 601 }, 40021) .. time(21) .. time(22)
seeds.closing = cfg() .. ack .. app(A.SHUTDOWN) .. seg({ flags = "F.", ack = 1 }) .. seg { flags = "." } .. time(20)
  .. seg { flags = "P.", data = "late" } .. peer({ flags = "S", seq = 99999, ts = { 2000, 0 } }, 40000)
  .. time(28) .. ack
seeds.last_ack = cfg() .. ack .. seg { flags = "FP.", data = "bye" } .. app(A.SEND, 0, 3) .. app(A.CLOSE) .. seg({
  flags = "." }, 0, 0, 0, ADDR) .. seg { flags = "R" } .. time(22)
seeds.fin_wait_2 = cfg() .. ack .. app(A.SHUTDOWN) .. ack .. seg { flags = "P.", data = "still talking" }
  .. seg { flags = "P.", seq = 200, data = "beyond" } .. seg { flags = "P.", seq = -3, data = "overlap" } .. time(26)
  .. seg { flags = "F." } .. seg { flags = "F." } .. time(26)
seeds.challenge = cfg() .. ack .. seg { flags = "R", seq = 3 } .. seg { flags = "R.", seq = 100 }
  .. seg { flags = "S", seq = 10 } .. seg { flags = ".", ts = { 1, 1 } } .. seg({ flags = ".", ack = 0x7fffffff },
    0, 0, 0, ADDR + FIX) .. seg { flags = "P.", win = 0, data = ("z"):rep(2000) } .. seg { flags = "U.", urg = 0 }
  .. seg { flags = "EW." } .. seg { flags = "none" }

-- ICMP errors A sends (and must not send), reassembly limits, urgent data in
local udp = ipraw(17, "\4\210\0\53\0\12\0\0dns?", 40, 0, false)
local many_udp = {}
for i = 1, 12 do many_udp[#many_udp + 1] = raw(ipraw(17, "\4\210\0\53\0\12\0\0" .. i, 40 + i, 0, false)) end
seeds.icmp_out = cfg() .. table.concat(many_udp) .. raw(ipraw(17, ("u"):rep(64), 60, 8, false))
  .. raw(ipraw(1, icmpmsg(3, 3, "\0\0\0\0" .. udp), 61, 0, false)) .. raw(ipraw(50, "esp", 62, 0, true))
  .. raw((ipraw(17, "\4\210\0\53\0\12\0\0bcast", 63, 0, false):gsub("^(" .. ("."):rep(16) .. ")....",
    "%1\10\77\0\255"))) .. time(21) .. raw(udp)
local frags = {}
for i = 1, 40 do frags[#frags + 1] = raw(ipraw(1, ("f"):rep(1000), 100 + i, 0, true)) end
seeds.reasm_limits = cfg() .. table.concat(frags) .. raw(ipraw(1, ("g"):rep(13), 200, 8, true))
  .. raw(ipraw(1, "", 201, 16, true)) .. raw(ipraw(1, ("h"):rep(16), 202, 65528, false))
  .. raw(ipraw(1, ("i"):rep(16), 203, 8, false)) .. raw(ipraw(1, ("i"):rep(24), 203, 0, true))
  .. raw(ipraw(1, ("j"):rep(8), 203, 4, true)) .. raw(ipraw(6, pkt.segment(syn):sub(1, 8), 204, 0, true))
  .. raw(ipraw(6, pkt.segment(syn):sub(9), 204, 8, false)) .. time(27)
seeds.urgent_in = cfg() .. ack .. seg { flags = "PU.", urg = 1, data = "!" } .. app(A.INFO)
  .. seg { flags = "PU.", seq = 1, urg = 600, data = ("u"):rep(500) } .. seg { flags = "U.", seq = 501, urg = 9 }
  .. app(A.AUTOREAD) .. seg { flags = "PU.", seq = 501, urg = 3, data = ("v"):rep(100) } .. app(A.RECV, 0, 0)
  .. seg { flags = "FPU.", seq = 601, urg = 2, data = "end" } .. app(A.RECV, 0, 9) .. pcap(0xfe)

-- loss recovery without SACK (duplicate ACKs, NewReno) and with SACK holes
local function noopt(t)
  t.ts = false
  return seg(t)
end
local dup = noopt { flags = ".", ack = DUPACK }
seeds.dupacks = cfg(CF.NO_SACK + CF.NO_TS) .. noopt { flags = "." } .. app(A.SEND_LOTS, 0, 6) .. dup .. dup .. dup
  .. dup .. noopt { flags = ".", ack = DUPACK + 1460 } .. dup .. dup .. dup .. noopt { flags = "." } .. time(21)
  .. setopt(OPT.CONGESTION, 1) .. app(A.SEND_LOTS, 0, 6) .. dup .. dup .. dup .. noopt { flags = ".",
    ack = DUPACK + 3000 } .. noopt { flags = "." }
-- SACK block edges are patched to SND.UNA plus their value modulo the flight
seeds.sack_holes = cfg() .. ack .. app(A.SEND_LOTS, 0, 6)
  .. seg { flags = ".", ack = DUPACK, sack = { { 1448, 2896 } } } .. seg { flags = ".", ack = DUPACK,
    sack = { { 1448, 5792 } } } .. seg { flags = ".", ack = DUPACK, sack = { { 1448, 5792 }, { 7240, 8688 } } }
  .. seg { flags = ".", ack = DUPACK, sack = { { 1448, 11584 } } } .. seg { flags = ".", ack = DUPACK + 1448,
    sack = { { 2896, 11584 } } } .. time(12) .. seg { flags = ".", ack = DUPACK, sack = { { 0, 1448 } } } .. ack
seeds.nosack_sim = cfg(CF.NO_SACK) .. app(A.CONNECT_B) .. bapp(B.CONNECT) .. time(14) .. app(A.SEND_LOTS, 1, 63)
  .. bapp(B.SEND, 0, 63) .. impair(4, { loss = 30, reorder = 30, seed = 5 }) .. time(20) .. time(21)
  .. impair(5, {}) .. time(23)

-- [n][n x (kind, x, y)]: add at x*2 (+1 with kind's top bit) y bytes, or
-- (kind odd) advance x
local function asm(steps)
  local t = {}
  for _, s in ipairs(steps) do t[#t + 1] = u8(s[1]) .. u8(s[2]) .. u8(s[3] or 0) end
  return op(OP.ASM) .. u8(#steps) .. table.concat(t)
end
seeds.assembler = cfg() .. asm { { 0, 10, 5 }, { 0, 20, 5 }, { 0, 30, 5 }, { 0, 40, 5 }, { 0, 50, 5 }, { 0, 60, 5 },
  { 0, 70, 5 }, { 0, 80, 5 }, { 0, 90, 5 }, { 0x80, 12, 30 }, { 0, 0, 21 }, { 1, 7 }, { 0, 200, 255 }, { 1, 255 },
  { 0, 255, 255 } }
local fill = {}
for i = 1, 70 do fill[#fill + 1] = { 0, 2 * i, 1 } end -- every other byte: 64 ranges, then refusals
fill[#fill + 1] = { 0, 0, 255 }
fill[#fill + 1] = { 1, 100 }
seeds.assembler_full = cfg() .. asm(fill)
seeds.api_small = cfg() .. app(A.INFO, 0, 7) .. app(A.INFO, 0, 250) .. app(A.INFO, 0, 64) .. app(A.USER, 0, 9)
  .. app(A.INFO, 0, 3)
seeds.pmtu_age = cfg() .. ack .. app(A.SEND_LOTS, 0, 1) .. icmp(0, 3, 4, 1000, 10) .. time(14) .. ack .. time(30)
  .. app(A.SEND_LOTS, 0, 1) .. ack .. time(14) .. ack
seeds.persist = cfg() .. ack .. app(A.SEND_LOTS, 0, 30) .. seg { flags = ".", win = 0 } .. time(20)
  .. time(21) .. time(22) .. seg { flags = ".", win = 1 } .. time(22) .. ack .. time(14)
seeds.sndbuf_grows = cfg(CF.SMALL_BUF) .. ack .. app(A.SEND_LOTS, 0, 4) .. setopt(OPT.SNDBUF, 65536) .. ack
  .. setopt(OPT.RCVBUF, 1) .. setopt(OPT.RCVBUF, 65536)
seeds.dupthresh = cfg() .. setopt(OPT.RECOVERY, 1) .. seeds.sack_holes:sub(2) .. app(A.CONNECT_B) .. time(14)
  .. setopt(OPT.RECOVERY, 1, 1) .. app(A.SEND_LOTS, 1, 63) .. impair(1, { loss = 40, seed = 4 }) .. bapp(B.SEND, 0, 63)
  .. impair(3, { loss = 40, seed = 4 }) .. time(20) .. time(21) .. impair(5, {}) .. time(22)

seeds.newreno_partial = cfg(CF.NO_SACK + CF.NO_TS) .. noopt { flags = "." } .. setopt(OPT.CONGESTION, 1)
  .. app(A.SEND_LOTS, 0, 8) .. dup .. dup .. dup .. dup .. noopt { flags = ".", ack = DUPACK + 1448 }
  .. noopt { flags = ".", ack = DUPACK + 1448 } .. noopt { flags = ".", ack = DUPACK + 4344 } .. dup .. dup .. dup
  .. noopt { flags = "." } .. setopt(OPT.CONGESTION, 0) .. app(A.SEND_LOTS, 0, 8) .. dup .. dup .. dup .. dup
  .. noopt { flags = ".", ack = DUPACK + 2896 } .. noopt { flags = "." }
seeds.time_wait = cfg() .. ack .. app(A.SHUTDOWN) .. seg { flags = "F." } .. time(14) .. seg { flags = "F.", seq = -1 }
  .. seg { flags = "P.", data = "after" } .. seg { flags = "R" } .. seg { flags = ".", seq = -1 }
  .. seg({ flags = "S", seq = 100 }, 0, 0, 0, ADDR + FIX) .. time(27) .. seg { flags = "." }
seeds.receive_edges = cfg() .. ack .. seg { flags = "P.", seq = 10, data = "gap" } .. seg { flags = "F.", seq = 40 }
  .. seg { flags = "P.", data = ("0123456789"):rep(2) } .. seg { flags = "P.", seq = 5, data = ("a"):rep(30) }
  .. seg { flags = "FP.", seq = 35, data = "tail" } .. seg { flags = "P.", seq = 60, data = "after fin" } .. time(18)
seeds.receive_full = cfg(CF.SMALL_BUF) .. ack .. app(A.AUTOREAD)
  .. seg { flags = "P.", data = ("r"):rep(1400) } .. seg { flags = "P.", data = ("s"):rep(1400) }
  .. seg { flags = "P.", data = ("t"):rep(1400) } .. seg { flags = "P.", data = ("u"):rep(1400) } .. time(20)
  .. seg { flags = "P.", seq = 1, data = "probe" } .. app(A.RECV, 0, 255) .. app(A.RECV, 0, 255) .. time(18)
  .. seg { flags = "P.", data = "more" }
seeds.window_shrink = cfg() .. ack .. app(A.SEND_LOTS, 0, 8) .. seg { flags = ".", ack = DUPACK + 1448, win = 2 }
  .. seg { flags = ".", ack = DUPACK, win = 1 } .. time(20) .. seg { flags = ".", win = 65535 }
  .. seg { flags = ".", ack = DUPACK + 9999999, win = 100 } .. time(21)
seeds.simultaneous_open = cfg() .. app(A.CONNECT_RAW) .. active { flags = "S", ts = { 5, 0 }, mss = 1400 }
  .. active { flags = "S.", ts = { 6, 0 } } .. active { flags = "." } .. app(A.SEND, 1, 1) .. active { flags = "F." }
  .. app(A.CLOSE, 1) .. active { flags = "." } .. time(25)

-- options before the SYN, peeking and searching the stream, SHUT_RD,
-- corking and the unsent-bytes limit, SYN cookies off
seeds.socket_options = cfg() .. app(A.AUTOREAD) .. app(A.SOCKET, 0, 0) .. app(A.SOCKET, 0, 1 + 2 + 8 + 32)
  .. app(A.SOCKET, 0, 4 + 16) .. time(14) .. bapp(B.SEND, 0, 3) .. bapp(B.SEND, 1, 3) .. time(14) .. bapp(B.SEND, 2, 2)
  .. time(14) .. app(A.PEEK, 1, 0) .. app(A.PEEK, 2, 77) .. app(A.FIND, 1, 5) .. app(A.FIND, 3, 9)
  .. app(A.SHUT_RD, 3) .. bapp(B.SEND, 0, 1) .. time(14) .. app(A.RECV, 3, 9) .. setopt(OPT.CORK, 1, 1)
  .. app(A.SEND, 1, 10) .. time(14) .. setopt(OPT.CORK, 0, 1) .. setopt(OPT.NOTSENT_LOWAT, 4096, 2)
  .. app(A.SEND_LOTS, 2, 8) .. time(16) .. app(A.SOCKET, 0, 64 + 128) .. app(A.SOCKET, 0, 64 + 128)
-- the raw peer answering A's last segment: flags (0: ACK), o (1 zero
-- window, 2 no timestamps, 4 MSS 536, 8 no SACK/wscale; high nibble: seq
-- offset), data
local function reply(flags, o, data)
  data = data or ""
  return op(OP.REPLY) .. u8(pkt.flagbits(flags or 0)) .. u8(o or 0) .. be16(#data) .. data
end
-- a capture on /dev/full: writes fail, close reports it
seeds.pcap_full = cfg() .. pcap(0xfd) .. app(A.SEND_LOTS, 0, 20) .. reply(".") .. reply(".") .. pcap(0)
  .. pcap(0xfd) .. app(A.SEND) .. reply(".")
seeds.syncookie_complete = cfg() .. table.concat(flood) .. reply(".") .. reply("P.", 0, "data after the cookie")
  .. time(14) .. reply(".")
seeds.reply_active = cfg() .. app(A.CONNECT_RAW) .. reply("S.") .. reply("P.", 0, "hello") .. app(A.SEND, 1, 20)
  .. reply(".") .. reply("F.") .. app(A.CLOSE, 1) .. reply(".") .. app(A.CONNECT_RAW) .. reply("S.", 2 + 4 + 8)
  .. reply("R.")
seeds.reply_bulk = cfg() .. app(A.SEND_LOTS, 0, 30) .. reply(".") .. reply(".") .. reply(".", 1) .. time(20)
  .. reply(".") .. reply(".") .. reply(".") .. reply("P.", 0, ("q"):rep(1000)) .. reply("F.")
seeds.syncookies_off = cfg() .. setopt(OPT.SYNCOOKIES, 0, 0) .. setopt(OPT.BACKLOG, 2)
  .. table.concat(flood, "", 1, 6) .. time(20) .. setopt(OPT.SYNCOOKIES, 1) .. table.concat(flood, "", 7, 12)
  .. raw(pkt.build { src = PEER, dst = SELF, sport = 50012, dport = 7, seq = 1201, ack = 77, flags = "." })

local n = 0
local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  n = n + 1
end
os.execute("mkdir -p " .. dir .. "/input " .. dir .. "/wire")
for name, bytes in pairs(seeds) do write(dir .. "/input/" .. name .. ".bin", bytes) end

-- fuzz_tcp_wire.c: bare TCP headers with every option
local wire = {
  syn = { flags = "S", mss = 1460, wscale = 7, sackok = true, ts = { 1, 0 } },
  sack = { flags = ".", ts = { 5, 1 }, sack = { { 1, 2 }, { 10, 20 }, { 30, 40 } } },
  data = { flags = "PU.", urg = 3, data = "payload" },
  unknown = { flags = "S", opts = "\254\6abcd\1\0" },
}
-- [4-byte source][4-byte destination][segment], as fuzz_tcp_wire.c reads them
for name, t in pairs(wire) do
  t.src, t.dst = PEER, SELF
  write(dir .. "/wire/" .. name .. ".bin", "\10\77\0\1\10\77\0\2" .. pkt.segment(t))
end
print(("wrote %d seeds to %s"):format(n, dir))
