-- Writes the fuzzer's seed inputs (fuzz/seeds/*.bin) in the record format
-- fuzz_input.c reads: [2-byte control][IPv4 datagram]. Run from the repo
-- root after `make`: luajit fuzz/gen_seeds.lua fuzz/seeds
package.path = "lua/?.lua;build/lua/?.lua;spec/?.lua;" .. package.path
local pkt = require "helpers.tcppkt"

local dir = assert(arg[1], "usage: gen_seeds.lua DIR")

local PATCH_ADDR, PATCH_SEQ, FIX_CSUM, TIME_JUMP, APP = 0x8000, 0x4000, 0x2000, 0x1000, 0x0800
-- application steps (fuzz_input.c app_step)
local SEND, SEND_LOTS, SHUTDOWN, CLOSE, SMALL_RCVBUF, CONNECT, NODELAY, MINUTE = 0, 1, 2, 3, 4, 5, 6, 7
local function app(action) return string.char(math.floor((APP + action) / 256), (APP + action) % 256) end
local PEER, SELF = "10.77.0.1", "10.77.0.2"

local function rec(bits, bytes)
  assert(#bytes < 2048, "record too long for the 11-bit length")
  local ctl = bits + #bytes
  return string.char(math.floor(ctl / 256), ctl % 256) .. bytes
end

-- A segment on the fuzzer's connection; seq low byte is the signed offset
-- from rcv_nxt after patching, ack is reduced into [snd_una, snd_nxt].
local function conn(t, bits)
  t.src, t.dst, t.sport, t.dport = PEER, SELF, 40000, 7
  t.seq = t.seq or 0
  t.ack = t.ack or 0xffff
  t.win = t.win or 512
  return rec(bits or (PATCH_ADDR + PATCH_SEQ), pkt.build(t))
end

local function be16(v) return string.char(math.floor(v / 256) % 256, v % 256) end

-- Raw IPv4 datagram with a given payload and fragment field.
local function ipraw(proto, payload, id, frag, mf)
  local total = 20 + #payload
  local ff = math.floor(frag / 8) + (mf and 0x2000 or 0)
  local h = "\69\0" .. be16(total) .. be16(id) .. be16(ff) .. "\64" .. string.char(proto)
  local addrs = string.char(10, 77, 0, 1, 10, 77, 0, 2)
  local sum = pkt.csum(h .. "\0\0" .. addrs)
  return h .. be16(sum) .. addrs .. payload
end

local seeds = {
  data = conn { flags = "P.", data = "hello from the peer\n", ts = { 100, 1 } },
  fin = conn { flags = "F.", ts = { 101, 1 } },
  rst = conn { flags = "R" },
  rst_ack = conn { flags = "R.", seq = 5 },
  syn_on_conn = conn { flags = "S", mss = 1000 },
  ooo = conn { flags = "P.", seq = 50, data = string.rep("o", 40) }
    .. conn { flags = "P.", seq = 0, data = string.rep("i", 50) },
  sack = conn { flags = ".", ts = { 5, 1 }, sack = { { 1, 2 }, { 10, 20 } } },
  zero_window = conn { flags = ".", win = 0 } .. rec(TIME_JUMP, "") .. conn { flags = ".", win = 100 },
  new_syn = rec(0, pkt.build { src = PEER, dst = SELF, sport = 40001, dport = 7, seq = 77, flags = "S", mss = 1460,
    wscale = 14, sackok = true, ts = { 9, 0 } }),
  closed_port = rec(0, pkt.build { src = PEER, dst = SELF, sport = 40002, dport = 9, seq = 5, flags = "S" }),
  bad_csum = rec(0, pkt.build { src = PEER, dst = SELF, sport = 40003, dport = 7, flags = "S", bad_csum = true }),
  unknown_opt = rec(0, pkt.build { src = PEER, dst = SELF, sport = 40004, dport = 7, flags = "S", opts = "\254\6abcd" }),
  fragments = rec(0, ipraw(6, pkt.segment { src = PEER, dst = SELF, sport = 40005, dport = 7, flags = "S",
    mss = 1460 }:sub(1, 16), 99, 0, true))
    .. rec(0, ipraw(6, pkt.segment { src = PEER, dst = SELF, sport = 40005, dport = 7, flags = "S",
      mss = 1460 }:sub(17), 99, 16, false)),
  ping = rec(0, ipraw(1, (function()
    local body = "\8\0\0\0\0\1\0\1" .. "ping"
    local s = pkt.csum(body)
    return body:sub(1, 2) .. be16(s) .. body:sub(5)
  end)(), 5, 0, false)),
  timeouts = conn { flags = "P.", data = "x" } .. rec(TIME_JUMP, "") .. rec(TIME_JUMP, "") .. conn { flags = "." },
}
seeds.active_close = app(SEND) .. conn { flags = "." } .. app(SHUTDOWN) .. conn { flags = "." }
  .. conn { flags = "F." } .. app(MINUTE)
seeds.passive_close = conn { flags = "F." } .. app(CLOSE) .. rec(TIME_JUMP, "")
seeds.bulk = app(SEND_LOTS) .. conn { flags = "." } .. conn { flags = ".", sack = { { 3000, 5000 } } }
  .. conn { flags = "." } .. conn { flags = "." } .. rec(TIME_JUMP, "") .. conn { flags = "." }
seeds.small_window = app(SMALL_RCVBUF) .. conn { flags = "P.", data = string.rep("w", 1400) } .. app(NODELAY)
-- tl_connect from port 41000 to the peer's 9999; seq/ack patching aims
-- segments to that port at the active connection
local function active(t)
  t.src, t.dst, t.sport, t.dport = PEER, SELF, 9999, 41000
  t.seq, t.ack = t.seq or 0, t.ack or 0xffff
  return rec(PATCH_SEQ + FIX_CSUM, pkt.build(t))
end
seeds.active_open = app(CONNECT) .. active { flags = "S.", mss = 1200, wscale = 2, sackok = true, ts = { 7, 0 } }
  .. active { flags = "P.", data = "welcome" } .. rec(TIME_JUMP, "") .. active { flags = "F." }
seeds.active_refused = app(CONNECT) .. rec(TIME_JUMP, "") .. active { flags = "R." }

-- Everything in one input, for a deep starting point.
local all = {}
for _, name in ipairs({ "data", "ooo", "sack", "new_syn", "ping", "timeouts", "fin" }) do all[#all + 1] = seeds[name] end
seeds.sequence = table.concat(all)
seeds.fix_only = rec(FIX_CSUM, pkt.build { src = PEER, dst = SELF, sport = 40006, dport = 7, flags = "S", csum = 0 })

local n = 0
for name, bytes in pairs(seeds) do
  local f = assert(io.open(dir .. "/" .. name .. ".bin", "wb"))
  f:write(bytes)
  f:close()
  n = n + 1
end
print(("wrote %d seeds to %s"):format(n, dir))
