-- Turns a capture of TCP traffic on the TUN (tcpdump -w, taken on the
-- kernel side of tcplua0) into a --tseq CSV for scripts/tseq-plot, through
-- tcplua.trace's own writer. "in" is what tcplua received (destination
-- STACK_ADDR), "out" what it sent. Used by scripts/bench when tcplua has no
-- --tseq flag; the wire view has segments but no cwnd/RTT samples.
--   luajit bench/pcap2tseq.lua IN.pcap OUT.csv STACK_ADDR
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "../lua/?.lua;" .. package.path
local trace = require "tcplua.trace"

local inpath, outpath, stack = arg[1], arg[2], arg[3]
if not (inpath and outpath and stack) then
  io.stderr:write("usage: pcap2tseq.lua IN.pcap OUT.csv STACK_ADDR\n")
  os.exit(2)
end

local f = assert(io.open(inpath, "rb"))
local data = f:read("*a")
f:close()

local function die(msg)
  io.stderr:write("pcap2tseq: ", msg, "\n")
  os.exit(1)
end

-- Unsigned integers of n bytes at offset i (1-based), big- or little-endian.
local function be(i, n)
  local v = 0
  for k = 0, n - 1 do v = v * 256 + data:byte(i + k) end
  return v
end
local function le(i, n)
  local v = 0
  for k = n - 1, 0, -1 do v = v * 256 + data:byte(i + k) end
  return v
end

if #data < 24 then die("not a pcap file (too short)") end
local rd, frac
local magic_le, magic_be = le(1, 4), be(1, 4)
if magic_le == 0xa1b2c3d4 then rd, frac = le, 1e-6
elseif magic_le == 0xa1b23c4d then rd, frac = le, 1e-9
elseif magic_be == 0xa1b2c3d4 then rd, frac = be, 1e-6
elseif magic_be == 0xa1b23c4d then rd, frac = be, 1e-9
else die("not a pcap file (pcapng is not read; use tcpdump -w)") end

-- Bytes before the IPv4 header for each link type we meet on a TUN.
local SKIP = { [101] = 0, [12] = 0, [228] = 0, [1] = 14, [113] = 16, [276] = 20 }
local skip = SKIP[rd(21, 4)]
if not skip then die("unsupported link type " .. rd(21, 4)) end

local function ip(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then die("bad address " .. s) end
  return ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
end
local stack_ip = ip(stack)

local w = assert(trace.tseq_writer(outpath, { relative = true, infer = true }))
local shift, t0, n = {}, nil, 0
local pos = 25
while pos + 16 <= #data do
  local ts = rd(pos, 4) + rd(pos + 4, 4) * frac
  local incl = rd(pos + 8, 4)
  local p = pos + 16 + skip
  pos = pos + 16 + incl
  if pos - 1 > #data then break end -- truncated last record
  -- RFC 791 header, RFC 9293 3.1 header; payload length from the IP total
  -- length, so a short snaplen still gives the true length.
  if incl >= skip + 40 and math.floor(data:byte(p) / 16) == 4 and data:byte(p + 9) == 6 then
    local ihl = (data:byte(p) % 16) * 4
    local total = be(p + 2, 2)
    local dst = be(p + 16, 4)
    local tcp = p + ihl
    local doff = math.floor(data:byte(tcp + 12) / 16) * 4
    local flags = data:byte(tcp + 13)
    local dir = dst == stack_ip and "in" or "out"
    local opts = data:sub(tcp + 20, math.min(tcp + doff - 1, pos - 1))
    if flags % 4 >= 2 then -- SYN: the window scale this side announces (RFC 7323 2.2)
      shift[dir] = trace.parse_options(opts).wscale or false
    end
    local win = be(tcp + 14, 2)
    if flags % 4 < 2 and shift["in"] and shift["out"] then win = win * 2 ^ math.min(shift[dir], 14) end
    t0 = t0 or ts
    w:segment {
      t = (ts - t0) * 1000, dir = dir, seq = be(tcp + 4, 4), ack = be(tcp + 8, 4), flags = flags,
      len = total - ihl - doff, win = win, options = opts,
    }
    n = n + 1
  end
end
w:close()
if n == 0 then die("no TCP segments in " .. inpath) end
print(("pcap2tseq: %d segments"):format(n))
