-- Tracing helpers: the --tseq time-sequence CSV writer and the one-line
-- segment format used by --trace. Pure Lua: works on the engine's segment
-- view and on plain tables with the same field names (see tcplua.fault).
--
--   local trace = require "tcplua.trace"
--   local w = assert(trace.tseq_writer("run.csv"))
--   w:segment{ t = 12.5, dir = "out", seq = s, len = 1448, flags = "P.", ack = a, win = 65535 }
--   w:sample{ t = 12.5, cwnd = 14480, ssthresh = 65535, srtt = 20.1 }
--   w:close()
--   print(trace.format(seg, "in", "ESTABLISHED", verdict))
--
-- The CSV columns are documented in docs/fault-injection.md ("--tseq").
local fault = require "tcplua.fault"
local bit = require "bit"

local band = bit.band
local flag_bits, flag_string = fault.flag_bits, fault.flag_string

local M = {}

local TWO32 = 4294967296

-- The columns of a --tseq CSV, in order.
M.TSEQ_COLUMNS = {
  "t_ms", "kind", "dir", "seq", "end", "ack", "win", "len", "flags", "sack", "marks",
  "cwnd", "ssthresh", "srtt_ms", "rttvar_ms", "rto_ms", "inflight", "conn",
}

local STATE_NAMES = {
  [0] = "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
  "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
}

local function other(dir) return dir == "in" and "out" or "in" end

local function num(v)
  if v == nil then return nil end
  return tonumber(v)
end

-- Shortest exact-enough text for a number (times keep microseconds).
local function fmt(v)
  if v == nil then return "" end
  v = tonumber(v)
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%d", v) end
  return (string.format("%.3f", v):gsub("0+$", ""):gsub("%.$", ""))
end

local function csv_field(s)
  s = tostring(s)
  if s:find('[,"\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

---------------------------------------------------------------------------
-- TCP options (RFC 9293 3.1, RFC 7323 2.2/3.2, RFC 2018 3): raw bytes to
-- a table { mss =, wscale =, sackok =, ts = { val, ecr }, sack = { {l, r} } }.
-- Malformed options end parsing; what was read so far is kept, with
-- `malformed = true`.
function M.parse_options(raw)
  local o = {}
  if type(raw) ~= "string" then return o end
  local i, n = 1, #raw
  local function u(at, len)
    local v = 0
    for k = 0, len - 1 do v = v * 256 + raw:byte(at + k) end
    return v
  end
  while i <= n do
    local kind = raw:byte(i)
    if kind == 0 then break end
    if kind == 1 then
      i = i + 1
    else
      local len = raw:byte(i + 1)
      if not len or len < 2 or i + len - 1 > n then
        o.malformed = true
        break
      end
      if kind == 2 and len == 4 then
        o.mss = u(i + 2, 2)
      elseif kind == 3 and len == 3 then
        o.wscale = raw:byte(i + 2)
      elseif kind == 4 and len == 2 then
        o.sackok = true
      elseif kind == 8 and len == 10 then
        o.ts = { u(i + 2, 4), u(i + 6, 4) }
      elseif kind == 5 and (len - 2) % 8 == 0 then
        o.sack = {}
        for k = i + 2, i + len - 1, 8 do o.sack[#o.sack + 1] = { u(k, 4), u(k + 4, 4) } end
      else
        o.unknown = (o.unknown or 0) + 1
      end
      i = i + len
    end
  end
  return o
end

-- An optional field: nil where a table lacks it or a cdata view raises.
local field = require("tcplua.fault.seg").opt

local function options_of(seg)
  local o = field(seg, "options")
  if o == nil then return nil end
  if type(o) == "string" then
    if o == "" then return nil end
    return M.parse_options(o)
  end
  return o
end

---------------------------------------------------------------------------
-- The time-sequence CSV writer.
local Writer = {}
Writer.__index = Writer

-- opts.relative (default true): sequence and ack numbers relative to each
-- direction's first sequence number (the ISN when the trace starts at the
-- SYN), as Wireshark shows them. opts.infer (default true): mark
-- retransmissions, out-of-order data, duplicate ACKs, zero windows and
-- probes from the segments themselves, adding to the marks given.
function M.tseq_writer(path, opts)
  opts = opts or {}
  local f, err
  if type(path) == "string" then
    f, err = io.open(path, "w")
    if not f then return nil, "tseq: " .. tostring(err) end
  else
    f = path -- an open file (or anything with :write)
  end
  local w = setmetatable({
    f = f, owned = type(path) == "string",
    relative = opts.relative ~= false, infer = opts.infer ~= false,
    conns = {}, nconns = 0, rows = 0,
  }, Writer)
  f:write(table.concat(M.TSEQ_COLUMNS, ","), "\n")
  return w
end

-- Per connection (numbered 1, 2, ... in order of appearance): the bases
-- of relative numbering, the highest sequence seen, the last ACK and
-- window, and the window scale each side's SYN announced (RFC 7323 2.2).
local function new_conn(self)
  self.nconns = self.nconns + 1
  return { id = self.nconns, base = {}, hi = {}, last_ack = {}, last_win = {}, ws = {}, syn = {} }
end

-- The connection a segment belongs to, by its addresses and ports (both
-- directions share one), or the single anonymous one when they are absent.
-- A new SYN (no ACK) on a 4-tuple whose SYN was already seen with another
-- sequence number starts a new connection (a new incarnation).
function Writer:conn_of(s, dir, syn_only)
  local key = ""
  if s.sport ~= nil and s.dport ~= nil then
    local a = tostring(s.src or "") .. ":" .. tostring(s.sport)
    local b = tostring(s.dst or "") .. ":" .. tostring(s.dport)
    key = a < b and a .. "|" .. b or b .. "|" .. a
  end
  local c = self.conns[key]
  if not c or (syn_only and c.syn[dir] ~= nil and c.syn[dir] ~= num(s.seq)) then
    c = new_conn(self)
    self.conns[key] = c
  end
  return c
end

-- Sequence number of direction d of connection c, relative to its base.
function Writer:rel(c, d, v)
  v = num(v)
  if v == nil then return nil end
  if not self.relative then return v end
  local b = c.base[d]
  if b == nil then
    b = v
    c.base[d] = b
  end
  return (v - b) % TWO32
end

-- a is before b in sequence space (RFC 9293 3.4), on relative numbers.
local function before(a, b) return a ~= b and (b - a) % TWO32 < 2147483648 end

function Writer:row(t)
  local out = {}
  for k, col in ipairs(M.TSEQ_COLUMNS) do out[k] = csv_field(t[col] or "") end
  self.f:write(table.concat(out, ","), "\n")
  self.rows = self.rows + 1
end

-- One segment. Fields: t (ms), dir, seq, len, flags, ack, win (the field
-- as on the wire: scaled here by the shift its sender announced, once both
-- SYNs were seen with the option; or `wnd`, bytes already scaled), sack
-- ({ {l, r} ... } absolute, or taken from options), options (for the
-- SYN's window scale), src, sport, dst, dport (which connection: rows
-- carry its number in the conn column), marks (a list or a "+"-joined
-- string: retrans, ooo, dupack, zerowin, probe, drop, delay, dup,
-- corrupt... any word). Returns the connection's number.
function Writer:segment(s)
  local dir = s.dir or "out"
  local bits = flag_bits(s)
  local syn, fin, rst, ackf = band(bits, 2) ~= 0, band(bits, 1) ~= 0, band(bits, 4) ~= 0, band(bits, 16) ~= 0
  local len = num(s.len) or (s.payload and #s.payload) or 0
  local c = self:conn_of(s, dir, syn and not ackf)
  local opts
  if syn then
    opts = options_of(s)
    c.syn[dir] = num(s.seq)
    c.ws[dir] = opts and opts.wscale or false
  end
  -- A SYN fixes its direction's base, so relative sequence 0 is the ISN.
  if syn and c.base[dir] == nil and self.relative then c.base[dir] = num(s.seq) end
  local seq = self:rel(c, dir, s.seq) or 0
  local seqlen = len + (syn and 1 or 0) + (fin and 1 or 0)
  local send = (seq + seqlen) % TWO32
  local ack
  if ackf or s.ack ~= nil and not s.flags then
    -- The ack refers to the other direction's numbers; until that side's
    -- ISN is known, its base is ack - 1 (the ack of its SYN).
    local a = num(s.ack)
    if a and self.relative and c.base[other(dir)] == nil then c.base[other(dir)] = (a - 1) % TWO32 end
    ack = self:rel(c, other(dir), a)
  end
  -- RFC 7323 2.2: a SYN's window is never scaled; later ones by the shift
  -- their sender's SYN gave, when both SYNs carried the option.
  local win = num(s.wnd)
  if win == nil then
    win = num(s.win)
    if win and not syn and c.ws[dir] and c.ws[other(dir)] then win = win * 2 ^ math.min(c.ws[dir], 14) end
  end

  local sack = s.sack
  if sack == nil then
    local o = options_of(s)
    sack = o and o.sack
  end
  local sack_txt
  if sack and #sack > 0 then
    local parts = {}
    for _, b in ipairs(sack) do
      parts[#parts + 1] = fmt(self:rel(c, other(dir), b[1])) .. "-" .. fmt(self:rel(c, other(dir), b[2]))
    end
    sack_txt = table.concat(parts, " ")
  end

  local marks, seen = {}, {}
  local function mark(m)
    if m and m ~= "" and not seen[m] then
      seen[m] = true
      marks[#marks + 1] = m
    end
  end
  if type(s.marks) == "string" then
    for m in s.marks:gmatch("[^+%s]+") do mark(m) end
  elseif type(s.marks) == "table" then
    for _, m in ipairs(s.marks) do mark(m) end
  end

  if self.infer and not rst then
    local hi = c.hi[dir]
    if seqlen > 0 and hi ~= nil then
      if before(seq, hi) then
        mark("retrans")
      elseif before(hi, seq) then
        mark("ooo")
      end
    end
    if ack and seqlen == 0 and c.last_ack[dir] == ack and c.last_win[dir] == win then
      local ohi = c.hi[other(dir)]
      if ohi and before(ack, ohi) then mark("dupack") end
    end
    if win == 0 then mark("zerowin") end
    -- A zero-window probe (RFC 9293 3.8.6.1): data into a closed window;
    -- a keep-alive (RFC 1122 4.2.3.6): at most one byte below snd_nxt.
    if len > 0 and c.last_win[other(dir)] == 0 then
      mark("probe")
    elseif hi and len <= 1 and not syn and not fin and (hi - seq) % TWO32 == 1 then
      mark("probe")
    end
  end
  if seqlen > 0 and (c.hi[dir] == nil or before(c.hi[dir], send)) then c.hi[dir] = send end
  if ack then
    c.last_ack[dir] = ack
    c.last_win[dir] = win
  end

  self:row {
    t_ms = fmt(s.t), kind = "seg", dir = dir, seq = fmt(seq), ["end"] = fmt(send),
    ack = ack and fmt(ack), win = win and fmt(win), len = fmt(len),
    flags = type(s.flags) == "string" and s.flags or flag_string(bits),
    sack = sack_txt, marks = #marks > 0 and table.concat(marks, "+") or nil, conn = fmt(c.id),
  }
  return c.id
end

-- One congestion-control sample: t (ms), cwnd and ssthresh (bytes), srtt,
-- rttvar, rto (ms), inflight (bytes), conn (the number segment returned).
-- Missing fields stay empty.
function Writer:sample(s)
  self:row {
    t_ms = fmt(s.t), kind = "sample", cwnd = fmt(s.cwnd), ssthresh = fmt(s.ssthresh),
    srtt_ms = fmt(s.srtt), rttvar_ms = fmt(s.rttvar), rto_ms = fmt(s.rto), inflight = fmt(s.inflight),
    conn = s.conn and fmt(s.conn),
  }
end

function Writer:flush() if self.f.flush then self.f:flush() end end

function Writer:close()
  if self.f and self.owned then self.f:close() end
  self.f = nil
  return true
end

---------------------------------------------------------------------------
-- One tcpdump-like line for a segment:
--   out 10.77.0.2.7 > 10.77.0.1.40000: Flags [P.], seq 1:6, ack 1, win 512,
--   options [mss 1460,sackOK,TS val 1 ecr 0,wscale 7], length 5 ESTABLISHED
--   [dropped by fault: loss]
-- state: a state name or tl_tcp_state number (nil to leave out); verdict:
-- any hook verdict (nil/"pass" leaves it out). seg.t, if present, leads.
local function opts_text(o)
  if not o then return nil end
  local parts = {}
  if o.mss then parts[#parts + 1] = "mss " .. o.mss end
  if o.sackok then parts[#parts + 1] = "sackOK" end
  if o.ts then parts[#parts + 1] = string.format("TS val %d ecr %d", o.ts[1], o.ts[2]) end
  if o.wscale then parts[#parts + 1] = "wscale " .. o.wscale end
  if o.sack then
    local b = {}
    for _, r in ipairs(o.sack) do b[#b + 1] = string.format("{%d:%d}", r[1], r[2]) end
    parts[#parts + 1] = "sack " .. #o.sack .. " " .. table.concat(b)
  end
  if o.malformed then parts[#parts + 1] = "malformed" end
  if #parts == 0 then return nil end
  return table.concat(parts, ",")
end

-- What leads the addresses: the direction, and "IP6" before IPv6 ones as
-- tcpdump writes it ("in IP6 fd77::1.40000 > fd77::2.7: Flags [S], ...").
local function lead(seg, dir)
  local src = field(seg, "src")
  if field(seg, "family") == 6 or (type(src) == "string" and src:find(":", 1, true)) then
    return (dir or "?") .. " IP6"
  end
  return dir or "?"
end

-- tcpdump's line for a UDP datagram: "in 10.77.0.1.40000 > 10.77.0.2.7: UDP, length 5".
local function format_udp(seg, dir, verdict)
  local t = {}
  local ts = field(seg, "t")
  if ts then t[#t + 1] = string.format("%.3f", tonumber(ts)) end
  t[#t + 1] = string.format("%s %s.%s > %s.%s: UDP, length %d", lead(seg, dir), tostring(seg.src), tostring(seg.sport),
    tostring(seg.dst), tostring(seg.dport), tonumber(seg.len) or 0)
  local line = table.concat(t, " ")
  local v = fault.normalize(verdict)
  if v then line = line .. " [" .. fault.describe(v) .. "]" end
  return line
end

-- tcpdump's names of the ICMP types a stack meets (RFC 792).
local ICMP_NAMES = { [0] = "echo reply", [3] = "unreachable", [8] = "echo request", [11] = "time exceeded",
  [12] = "parameter problem" }
-- And of the ICMPv6 ones (RFC 4443, RFC 4861).
local ICMP6_NAMES = { [1] = "destination unreachable", [2] = "packet too big", [3] = "time exceeded",
  [4] = "parameter problem", [128] = "echo request", [129] = "echo reply", [133] = "router solicitation",
  [134] = "router advertisement", [135] = "neighbor solicitation", [136] = "neighbor advertisement" }

local function format_icmp(seg, dir, verdict)
  local t = {}
  local ts = field(seg, "t")
  if ts then t[#t + 1] = string.format("%.3f", tonumber(ts)) end
  local ty = tonumber(seg.type) or 0
  local six = field(seg, "proto") == "icmp6"
  local name = (six and ICMP6_NAMES or ICMP_NAMES)[ty] or "type " .. ty
  t[#t + 1] = string.format("%s %s > %s: %s %s, type %d, code %d, length %d", lead(seg, dir), tostring(seg.src),
    tostring(seg.dst), six and "ICMP6" or "ICMP", name, ty, tonumber(seg.code) or 0, tonumber(seg.len) or 0)
  local line = table.concat(t, " ")
  local v = fault.normalize(verdict)
  if v then line = line .. " [" .. fault.describe(v) .. "]" end
  return line
end

-- A gateway's non-TCP datagram (a packet view: proto is not "tcp").
local function format_pkt(seg, dir, verdict)
  local p = seg.proto
  local what = tostring(p)
  if p == "udp" and seg.sport then
    what = string.format("UDP %s > %s", tostring(seg.sport), tostring(seg.dport))
  elseif p == "icmp" and seg.icmp_type then
    what = string.format("ICMP type %d code %d", seg.icmp_type, seg.icmp_code)
  end
  local line = string.format("%s %s > %s: %s, length %d", dir or "?", tostring(seg.src), tostring(seg.dst), what,
    tonumber(seg.len) or 0)
  local v = fault.normalize(verdict)
  if v then line = line .. " [" .. fault.describe(v) .. "]" end
  return line
end

function M.format(seg, dir, state, verdict)
  local proto = field(seg, "proto")
  -- A whole UDP datagram or ICMP message has its own view (segview.lua);
  -- a gateway's other datagrams (fragments, other protocols) a packet view.
  if proto == "udp" and seg.sport ~= nil then return format_udp(seg, dir, verdict) end
  if (proto == "icmp" or proto == "icmp6") and field(seg, "type") ~= nil then return format_icmp(seg, dir, verdict) end
  if proto ~= nil and proto ~= "tcp" and proto ~= 6 then return format_pkt(seg, dir, verdict) end
  local bits = flag_bits(seg)
  local len = tonumber(seg.len) or 0
  local seq = tonumber(seg.seq) or 0
  local t = {}
  local ts = field(seg, "t")
  if ts then t[#t + 1] = string.format("%.3f", tonumber(ts)) end
  t[#t + 1] = string.format("%s %s.%s > %s.%s: Flags [%s]", lead(seg, dir), tostring(seg.src), tostring(seg.sport),
    tostring(seg.dst), tostring(seg.dport), flag_string(bits))
  local body = {}
  if len > 0 then
    body[#body + 1] = string.format("seq %d:%d", seq, (seq + len) % TWO32)
  elseif band(bits, 0x07) ~= 0 then
    body[#body + 1] = string.format("seq %d", seq)
  end
  if band(bits, 0x10) ~= 0 then body[#body + 1] = string.format("ack %d", tonumber(seg.ack) or 0) end
  if seg.win ~= nil then body[#body + 1] = string.format("win %d", tonumber(seg.win)) end
  local urg = (band(bits, 0x20) ~= 0) and tonumber(seg.urg)
  if urg then body[#body + 1] = "urg " .. urg end
  local o = opts_text(options_of(seg))
  if o then body[#body + 1] = "options [" .. o .. "]" end
  body[#body + 1] = "length " .. len
  local line = table.concat(t, " ") .. ", " .. table.concat(body, ", ")
  if state ~= nil then
    if type(state) == "number" then state = STATE_NAMES[state] or tostring(state) end
    line = line .. " " .. tostring(state)
  end
  local v = fault.normalize(verdict)
  if v then line = line .. " [" .. fault.describe(v) .. "]" end
  return line
end

---------------------------------------------------------------------------
-- Hooks: wrap a policy (or nothing) so every segment it sees is recorded.

-- Marks for what a verdict did to a segment.
local function verdict_marks(v)
  if not v then return nil end
  local m = {}
  if v.drop then m[#m + 1] = "drop" end
  if v.delay then m[#m + 1] = "delay" end
  if v.duplicate then m[#m + 1] = "dup" end
  if v.corrupt then m[#m + 1] = "corrupt" end
  if v.segment ~= nil then m[#m + 1] = "replaced" end
  if v.slice then m[#m + 1] = "slice" end
  return m
end

-- A segment hook that records each segment (and, when conn:info() exists,
-- a cwnd/ssthresh/srtt sample) to tseq writer w, after running `policy`
-- (optional) whose verdict it returns unchanged and records as marks.
-- The window recorded is seg.wnd (scaled) when the view has it, else win
-- scaled as the connection's SYNs agreed (Writer:segment).
function M.tseq_hook(w, policy)
  return function(seg, dir, conn, now)
    local verdict
    if policy then verdict = policy(seg, dir, conn, now) end
    -- The time-sequence graph is TCP's: UDP and ICMP are not recorded.
    local proto = field(seg, "proto")
    if proto ~= nil and proto ~= "tcp" and proto ~= 6 then return verdict end
    local v = fault.normalize(verdict)
    local id = w:segment {
      t = now, dir = dir, seq = seg.seq, len = seg.len, flags = seg.flags, ack = seg.ack,
      win = seg.win, wnd = field(seg, "wnd"), options = field(seg, "options"), marks = verdict_marks(v),
      src = seg.src, sport = seg.sport, dst = seg.dst, dport = seg.dport,
    }
    if type(conn) == "table" and type(conn.info) == "function" then
      local i = conn:info()
      if i then
        w:sample { t = now, cwnd = i.cwnd, ssthresh = i.ssthresh, srtt = i.srtt, rttvar = i.rttvar, rto = i.rto,
          inflight = i.unacked, conn = id }
      end
    end
    return verdict
  end
end

-- A segment hook that prints trace.format lines through out (default
-- print), with the time and connection state, after running `policy`.
function M.print_hook(policy, out)
  out = out or print
  return function(seg, dir, conn, now)
    local verdict
    if policy then verdict = policy(seg, dir, conn, now) end
    local state
    if type(conn) == "table" and type(conn.state) == "function" then state = conn:state() end
    local line = M.format(seg, dir, state, verdict)
    if now then line = string.format("%.3f ", now) .. line end
    out(line)
    return verdict
  end
end

-- Per-connection time-sequence file: records what conn:on_segment sees.
-- Needs the engine's conn:on_segment; returns the writer (close it, or it
-- is closed when the connection's hook is collected at exit).
function M.timeseq(conn, path, policy)
  if type(conn) ~= "table" or type(conn.on_segment) ~= "function" then
    return nil, "trace.timeseq: conn:on_segment is not available"
  end
  local w, err = M.tseq_writer(path)
  if not w then return nil, err end
  conn:on_segment(M.tseq_hook(w, policy))
  return w
end

M.STATE_NAMES = STATE_NAMES
return M
