-- Segment views and segment building for the hook runner (tcplua.hook).
--
-- A view is a small table over the bytes of a held datagram (a
-- tl_hook_seg slot, LuaJIT FFI): fields are read from the packet when
-- asked for, and writes go straight into the bytes (the runner fixes the
-- checksums afterwards). Nothing is copied unless asked: `payload` and
-- `raw_options` make strings only when read. A view is valid only during
-- the hook call; keep `fault.copy(seg)` if you need it later.
--
-- Fields (RFC 9293 3.1 header layout; RFC 791 3.1 for the addresses):
--   src, dst        dotted quads ("10.77.0.1"); writable (string or number)
--   sport, dport, seq, ack, win, urg   numbers; writable
--   flags           tcpdump-style string ("S", "S.", "P.", "F.", "R.");
--                   writable as a string or bits
--   bits            the flag bits as a number (FIN 1, SYN 2, RST 4, PSH 8,
--                   ACK 16, URG 32); writable
--   len             payload bytes;  size: IPv4 datagram bytes
--   options         parsed: { mss, wscale, sackok, ts = {val, ecr}, sack = {{l, r}} }
--   raw_options     the option bytes as a string;  optlen: their length
--   payload         the payload as a string (made on access)
--   mss, wscale, sackok, timestamps   shortcuts into options (accept filters)
--   ttl, id         IPv4 TTL and identification; writable
--   family          4 or 6: the IP version. Over IPv6 (RFC 8200 3) src and
--                   dst are RFC 5952 text ("fd77::1"), hop_limit (and ttl,
--                   its alias) and flow_label are writable, id is nil and
--                   size is 40 + the payload length; the transport fields
--                   are those of the header after the extension-header
--                   chain (hop-by-hop, routing, destination options,
--                   fragment). An ICMPv6 message's proto is "icmp6".
--   proto           "tcp" (every field above), "udp" or "icmp". A UDP
--                   datagram's view has src, dst, ttl, id, size, sport,
--                   dport (writable), len and payload (the datagram's
--                   data) and checksum (the field; 0: sent without one).
--                   An ICMP message's has src, dst, ttl, id, size, type
--                   and code (writable), len and payload (what follows
--                   the 8-byte header). Fragments pass without hooks.
--   side            in a gateway: "a" or "b", the side it came in on; else nil
--   flow            in a gateway: the passive flow table's view of its TCP
--                   flow (tcplua.gateway: state, bytes_c2s, dir ...); else nil
--
-- In a gateway (tcplua --gateway), a whole UDP datagram or ICMP message
-- gets the view above (with side; an ICMP view also answers icmp_type and
-- icmp_code), and any other datagram (fragments, other protocols) a
-- packet view: src, dst, ttl, id (writable), size, proto ("udp", "icmp" or
-- the number), len (bytes after the IPv4 header), payload, sport/dport
-- (UDP), icmp_type/icmp_code (ICMP), side; flags "none" and bits 0, so
-- packet-level faults (loss, delay, duplicate, corrupt...) apply to them
-- as to segments.
local core = require "tcplua.core"
local gateway = require "tcplua.gateway"
local wire = require "tcplua.c.wire"
local chook = require "tcplua.c.hook"
local fault = require "tcplua.fault"
local ffi = require "ffi"
local bit = require "bit"
local band, bor, rshift, lshift = bit.band, bit.bor, bit.rshift, bit.lshift

local M = {}

local function rd16(p, o) return p[o] * 256 + p[o + 1] end
local function rd32(p, o) return ((p[o] * 256 + p[o + 1]) * 256 + p[o + 2]) * 256 + p[o + 3] end
local function wr16(p, o, v)
  p[o] = band(rshift(v, 8), 255)
  p[o + 1] = band(v, 255)
end
local function wr32(p, o, v)
  v = v % 4294967296
  p[o] = math.floor(v / 16777216) % 256
  p[o + 1] = math.floor(v / 65536) % 256
  p[o + 2] = math.floor(v / 256) % 256
  p[o + 3] = v % 256
end

local function ipnum(v)
  local n, err = core.ip(v)
  if not n then error("segment: " .. err, 3) end
  return n
end

-- An IPv6 address's text as its 16 bytes.
local function ip6bytes(v)
  local a, err = core.ip6(v)
  if not a then error("segment: " .. err, 3) end
  return a
end

-- Is this address text IPv6's?
local function is6(x) return type(x) == "string" and x:find(":", 1, true) ~= nil end
M.is6 = is6

-- The datagram's size: IPv4's total length, or IPv6's 40 + payload length.
local function tot(v)
  if v._6 then return 40 + rd16(v._p, 4) end
  return rd16(v._p, 2)
end

-- Parses option bytes (a pointer and length) into the table form.
local function parse_opts(p, len)
  if len <= 0 then return {} end
  local rc, opts_buf = wire.parse_opts(p, len)
  local o = {}
  if rc ~= 0 then o.malformed = true end
  if opts_buf.has_mss ~= 0 then o.mss = opts_buf.mss end
  if opts_buf.has_wscale ~= 0 then o.wscale = opts_buf.wscale end
  if opts_buf.sack_ok ~= 0 then o.sackok = true end
  if opts_buf.has_ts ~= 0 then o.ts = { tonumber(opts_buf.ts_val), tonumber(opts_buf.ts_ecr) } end
  if opts_buf.sack_n > 0 then
    o.sack = {}
    for i = 0, opts_buf.sack_n - 1 do
      o.sack[#o.sack + 1] = { tonumber(opts_buf.sack[i][0]), tonumber(opts_buf.sack[i][1]) }
    end
  end
  return o
end
M.parse_opts = parse_opts

local get, set = {}, {}

-- Offsets: ihl = IPv4 header bytes, t = start of the TCP header.
function get.src(v)
  if v._6 then return core.ip6str(ffi.string(v._p + 8, 16)) end
  return core.ipstr(rd32(v._p, 12))
end
function get.dst(v)
  if v._6 then return core.ip6str(ffi.string(v._p + 24, 16)) end
  return core.ipstr(rd32(v._p, 16))
end
function get.ttl(v) return v._6 and v._p[7] or v._p[8] end
get.hop_limit = get.ttl
function get.id(v)
  if v._6 then return nil end
  return rd16(v._p, 4)
end
get.size = tot
function get.family(v) return v._6 and 6 or 4 end
function get.flow_label(v)
  if not v._6 then return nil end
  return band(v._p[1], 15) * 65536 + v._p[2] * 256 + v._p[3]
end
function get.sport(v) return rd16(v._p, v._t) end
function get.dport(v) return rd16(v._p, v._t + 2) end
function get.seq(v) return rd32(v._p, v._t + 4) end
function get.ack(v) return rd32(v._p, v._t + 8) end
function get.off(v) return rshift(v._p[v._t + 12], 4) * 4 end
function get.bits(v) return v._p[v._t + 13] end
function get.flags(v) return fault.flag_string(v._p[v._t + 13]) end
function get.win(v) return rd16(v._p, v._t + 14) end
function get.urg(v) return rd16(v._p, v._t + 18) end
function get.len(v)
  local n = tot(v) - v._t - get.off(v)
  return n > 0 and n or 0
end
function get.optlen(v) return get.off(v) - 20 end
function get.raw_options(v) return ffi.string(v._p + v._t + 20, math.max(0, get.optlen(v))) end
function get.options(v)
  local o = v._opts
  if not o then
    o = parse_opts(v._p + v._t + 20, get.optlen(v))
    v._opts = o -- the key exists (false): a plain store, no __newindex
  end
  return o
end
function get.payload(v) return ffi.string(v._p + v._t + get.off(v), get.len(v)) end
function get.proto(_) return "tcp" end
function get.side(v)
  if not v._gw then return nil end
  return v._seg.side == 1 and "b" or "a"
end
function get.flow(v)
  if not v._gw then return nil end
  local fv = v._fv
  if not fv then
    fv = gateway.new_view()
    v._fv = fv
  end
  return gateway.view(v._gw, v._seg, fv)
end
function get.mss(v) return get.options(v).mss end
function get.wscale(v) return get.options(v).wscale end
function get.sackok(v) return get.options(v).sackok or false end
function get.timestamps(v) return get.options(v).ts end

function set.src(v, x)
  if v._6 then return ffi.copy(v._p + 8, ip6bytes(x), 16) end
  wr32(v._p, 12, ipnum(x))
end
function set.dst(v, x)
  if v._6 then return ffi.copy(v._p + 24, ip6bytes(x), 16) end
  wr32(v._p, 16, ipnum(x))
end
function set.ttl(v, x) v._p[v._6 and 7 or 8] = x end
set.hop_limit = set.ttl
function set.id(v, x)
  if v._6 then error("segment: an IPv6 datagram has no id field", 3) end
  wr16(v._p, 4, x)
end
function set.flow_label(v, x)
  if not v._6 then error("segment: an IPv4 datagram has no flow label", 3) end
  x = band(x, 0xfffff)
  v._p[1] = bor(band(v._p[1], 0xf0), rshift(x, 16))
  v._p[2] = band(rshift(x, 8), 255)
  v._p[3] = band(x, 255)
end
function set.sport(v, x) wr16(v._p, v._t, x) end
function set.dport(v, x) wr16(v._p, v._t + 2, x) end
function set.seq(v, x) wr32(v._p, v._t + 4, x) end
function set.ack(v, x) wr32(v._p, v._t + 8, x) end
function set.win(v, x) wr16(v._p, v._t + 14, x) end
function set.urg(v, x) wr16(v._p, v._t + 18, x) end
function set.bits(v, x) v._p[v._t + 13] = band(x, 255) end
function set.flags(v, x)
  if type(x) == "number" then return set.bits(v, x) end
  v._p[v._t + 13] = fault.flag_bits({ flags = x })
end

function get.proto() return "tcp" end

-- A UDP datagram's fields (RFC 768): the addresses and ports as TCP's.
local uget, uset = {}, {}
local IPF = { "src", "dst", "ttl", "hop_limit", "id", "size", "family", "flow_label" }
for _, k in ipairs(IPF) do uget[k], uset[k] = get[k], set[k] end
for _, k in ipairs({ "sport", "dport" }) do uget[k], uset[k] = get[k], set[k] end
function uget.proto() return "udp" end
function uget.len(v)
  local n = rd16(v._p, v._t + 4) - 8
  return n > 0 and n or 0
end
function uget.payload(v) return ffi.string(v._p + v._t + 8, uget.len(v)) end
function uget.checksum(v) return rd16(v._p, v._t + 6) end

-- An ICMP message's fields (RFC 792): type, code, then what follows the
-- 8-byte header (an echo's data, an error's quoted datagram).
local iget, iset = {}, {}
for _, k in ipairs(IPF) do iget[k], iset[k] = get[k], set[k] end
function iget.proto(v) return v._6 and "icmp6" or "icmp" end
function iget.type(v) return v._p[v._t] end
function iget.code(v) return v._p[v._t + 1] end
function iget.checksum(v) return rd16(v._p, v._t + 2) end
function iget.len(v)
  local n = tot(v) - v._t - 8
  return n > 0 and n or 0
end
function iget.payload(v) return ffi.string(v._p + v._t + 8, iget.len(v)) end
iget.icmp_type, iget.icmp_code = iget.type, iget.code
uget.side, iget.side = get.side, get.side
function iset.type(v, x) v._p[v._t] = band(x, 255) end
function iset.code(v, x) v._p[v._t + 1] = band(x, 255) end
local SETS = { [uget] = uset, [iget] = iset }

local View = {}
-- v._g: the getters of a UDP or ICMP view (false: TCP's).
View.__index = function(v, k)
  local g = (v._g or get)[k]
  if g then return g(v) end
  return nil
end
View.__newindex = function(v, k, x)
  local s = v._g and SETS[v._g][k] or (not v._g and set[k])
  if not s then error("segment: field " .. tostring(k) .. " is read-only or unknown", 2) end
  s(v, x)
  v._dirty = true
end
View.__tostring = function(v)
  if v._g == uget then
    return string.format("datagram %s.%d > %s.%d udp len %d", get.src(v), get.sport(v), get.dst(v), get.dport(v),
      uget.len(v))
  elseif v._g == iget then
    return string.format("%s %s > %s type %d code %d len %d", iget.proto(v), get.src(v), get.dst(v), iget.type(v), iget.code(v),
      iget.len(v))
  end
  return string.format("segment %s.%d > %s.%d [%s] seq %d len %d", get.src(v), get.sport(v), get.dst(v),
    get.dport(v), get.flags(v), get.seq(v), get.len(v))
end
M.View = View

-- A UDP view when p holds an unfragmented datagram whose length field
-- fits; an ICMP (ICMPv6) view when it holds at least an 8-byte header.
-- t: where the transport header starts; proto: the protocol number.
local function other_view(seg, reuse, p, t, n, proto, six)
  local g
  if proto == 17 then
    if n < t + 8 or rd16(p, t + 4) < 8 or t + rd16(p, t + 4) > n then return nil end
    g = uget
  else
    if n < t + 8 then return nil end
    g = iget
  end
  local v = reuse or M.new_view(p, t, seg)
  v._p, v._t, v._seg, v._opts, v._dirty, v._g, v._6 = p, t, seg, false, false, g, six
  return v
end

-- Whether the TCP header at t is whole within n bytes.
local function tcp_fits(p, t, n)
  if n < t + 20 then return false end
  local off = rshift(p[t + 12], 4) * 4
  return off >= 20 and t + off <= n
end

-- The IPv6 chain (RFC 8200 4): the offset of the upper-layer header and
-- its protocol, past hop-by-hop, routing and destination options; nil for
-- a fragment (other than an atomic one, RFC 6946), a chain of more than
-- 16 headers or one past the datagram (the input path judges those).
local EXT = { [0] = true, [43] = true, [60] = true }
local function chain6(p, n)
  local nh, at = p[6], 40
  for _ = 1, 16 do
    if EXT[nh] then
      if at + 2 > n then return nil end
      nh, at = p[at], at + (p[at + 1] + 1) * 8
    elseif nh == 44 then
      if at + 8 > n or band(p[at + 2], 0xff) ~= 0 or band(p[at + 3], 0xf9) ~= 0 then return nil end
      nh, at = p[at], at + 8
    else
      break
    end
    if at > n then return nil end
  end
  if EXT[nh] or nh == 44 then return nil end
  return at, nh
end

local function aim(reuse, p, t, seg, six)
  -- The private keys always exist (false when unset), so these are plain
  -- stores that JIT-compile (rawset does not).
  if reuse then
    reuse._p, reuse._t, reuse._seg, reuse._opts, reuse._dirty, reuse._g, reuse._6 = p, t, seg, false, false, false,
      six
    return reuse
  end
  local v = M.new_view(p, t, seg)
  v._6 = six
  return v
end

local function view6(seg, reuse, p, len)
  if len < 48 then return nil end
  local n = 40 + rd16(p, 4)
  if n > len then return nil end
  local t, nh = chain6(p, n)
  if not t then return nil end
  if nh == 17 or nh == 58 then return other_view(seg, reuse, p, t, n, nh, true) end
  if nh ~= 6 or not tcp_fits(p, t, n) then return nil end
  return aim(reuse, p, t, seg, true)
end

-- A view over a held datagram, or nil if it is not an unfragmented TCP
-- segment with a whole header, UDP datagram or ICMP (ICMPv6) message, of
-- either IP version (the rest pass without hooks).
-- `reuse`: a view to re-aim instead of making a new table (the runner
-- keeps one: views live only for the hook call, so a segment costs no
-- allocation).
function M.view(seg, reuse)
  local p, len = seg.pkt, seg.len
  if len < 28 then return nil end
  local ver = rshift(p[0], 4)
  if ver == 6 then return view6(seg, reuse, p, len) end
  if ver ~= 4 then return nil end
  local ihl = band(p[0], 15) * 4
  if band(p[6], 0x3f) ~= 0 or p[7] ~= 0 then return nil end
  local n = rd16(p, 2)
  if n > len or ihl < 20 then return nil end
  if p[9] == 17 or p[9] == 1 then return other_view(seg, reuse, p, ihl, n, p[9], false) end
  if p[9] ~= 6 or not tcp_fits(p, ihl, n) then return nil end
  return aim(reuse, p, ihl, seg, false)
end

function M.new_view(p, ihl, seg)
  return setmetatable({ _p = p or false, _t = ihl or 0, _seg = seg or false, _opts = false, _dirty = false,
    _g = false, _gw = false, _fv = false, _6 = false }, View)
end

------------------------------------------------------------ packet views --

local pget, pset = {}, {}
local PROTO = { [1] = "icmp", [6] = "tcp", [17] = "udp" }
pget.src, pget.dst, pget.ttl, pget.id, pget.size, pget.side = get.src, get.dst, get.ttl, get.id, get.size, get.side
pset.src, pset.dst, pset.ttl, pset.id = set.src, set.dst, set.ttl, set.id
function pget.proto(v) return PROTO[v._p[9]] or v._p[9] end
function pget.len(v) return math.max(0, rd16(v._p, 2) - v._t) end
function pget.payload(v) return ffi.string(v._p + v._t, pget.len(v)) end
function pget.flags(_) return "none" end
function pget.bits(_) return 0 end
local function first_frag(v) return band(v._p[6], 0x1f) == 0 and v._p[7] == 0 end
function pget.sport(v)
  if v._p[9] == 17 and first_frag(v) and pget.len(v) >= 8 then return rd16(v._p, v._t) end
end
function pget.dport(v)
  if v._p[9] == 17 and first_frag(v) and pget.len(v) >= 8 then return rd16(v._p, v._t + 2) end
end
function pget.icmp_type(v)
  if v._p[9] == 1 and first_frag(v) and pget.len(v) >= 4 then return v._p[v._t] end
end
function pget.icmp_code(v)
  if v._p[9] == 1 and first_frag(v) and pget.len(v) >= 4 then return v._p[v._t + 1] end
end

local PktView = {}
PktView.__index = function(v, k)
  local g = pget[k]
  if g then return g(v) end
  return nil
end
PktView.__newindex = function(v, k, x)
  local s = pset[k]
  if not s then error("packet: field " .. tostring(k) .. " is read-only or unknown", 2) end
  s(v, x)
  v._dirty = true
end
PktView.__tostring = function(v)
  return string.format("packet %s > %s %s len %d", pget.src(v), pget.dst(v), tostring(pget.proto(v)), pget.len(v))
end

-- A packet view over any held IPv4 datagram with a whole header, or nil.
function M.pkt_view(seg, reuse)
  local p, len = seg.pkt, seg.len
  if len < 20 or rshift(p[0], 4) ~= 4 then return nil end
  local ihl = band(p[0], 15) * 4
  local tot = rd16(p, 2)
  if ihl < 20 or tot > len or tot < ihl then return nil end
  if reuse then
    reuse._p, reuse._t, reuse._seg, reuse._dirty = p, ihl, seg, false
    return reuse
  end
  return setmetatable({ _p = p, _t = ihl, _seg = seg, _dirty = false, _gw = false, _opts = false, _fv = false,
    _6 = false },
    PktView)
end


function M.new_pkt_view() return setmetatable({ _p = false, _t = 0, _seg = false, _dirty = false, _gw = false,
  _opts = false, _fv = false, _6 = false }, PktView) end

function M.is_view(x) return getmetatable(x) == View end

---------------------------------------------------------------- building --

-- Option bytes from the table form (RFC 9293 3.2, RFC 7323, RFC 2018),
-- padded with NOPs to a multiple of 4.
local function encode_opts(o)
  if o == nil then return "" end
  if type(o) == "string" then
    local pad = (4 - #o % 4) % 4
    return o .. string.rep("\1", pad)
  end
  local b = {}
  local function byte(...) for _, x in ipairs({ ... }) do b[#b + 1] = string.char(x) end end
  local function u32(x)
    x = x % 4294967296
    byte(math.floor(x / 16777216) % 256, math.floor(x / 65536) % 256, math.floor(x / 256) % 256, x % 256)
  end
  if o.mss then byte(2, 4, math.floor(o.mss / 256) % 256, o.mss % 256) end
  if o.sackok then byte(4, 2) end
  if o.ts then byte(8, 10); u32(o.ts[1] or o.ts.val or 0); u32(o.ts[2] or o.ts.ecr or 0) end
  if o.wscale then byte(1, 3, 3, o.wscale) end
  if o.sack and #o.sack > 0 then
    byte(5, 2 + 8 * #o.sack)
    for _, r in ipairs(o.sack) do u32(r[1]); u32(r[2]) end
  end
  local s = table.concat(b)
  return s .. string.rep("\1", (4 - #s % 4) % 4)
end
M.encode_opts = encode_opts

local function field(t, k, default)
  local x = t[k]
  if x == nil then return default end
  return x
end

-- Writes the IP datagram described by table t (the segment fields) into
-- buf (uint8_t[65536]); returns its length. IPv6 (RFC 8200 3) when src or
-- dst is IPv6 text, with t.hop_limit (or
-- ttl) and t.flow_label; else IPv4 with t.id and t.ttl. Missing fields:
-- seq/ack 0, win 65535, flags ".", no options, no payload, ttl 64.
function M.build(t, buf)
  local opts = encode_opts(field(t, "raw_options", nil) or field(t, "options", nil))
  if #opts > 40 then error("segment: more than 40 bytes of options", 3) end
  local payload = field(t, "payload", "")
  payload = tostring(payload)
  local thl = 20 + #opts
  if t.src == nil or t.dst == nil then error("segment: src and dst are required", 3) end
  local six = is6(t.src) or is6(t.dst)
  local ih = six and 40 or 20
  local tot = ih + thl + #payload
  if tot > 65535 + (six and 40 or 0) then error("segment: too large", 3) end
  ffi.fill(buf, ih + thl)
  if six then
    buf[0] = 0x60
    set.flow_label({ _p = buf, _6 = true }, field(t, "flow_label", 0))
    wr16(buf, 4, thl + #payload)
    buf[6] = 6
    buf[7] = field(t, "hop_limit", field(t, "ttl", 64))
    ffi.copy(buf + 8, ip6bytes(t.src), 16)
    ffi.copy(buf + 24, ip6bytes(t.dst), 16)
  else
    buf[0] = 0x45
    wr16(buf, 2, tot)
    wr16(buf, 4, field(t, "id", 0))
    buf[6] = 0x40 -- DF
    buf[8] = field(t, "ttl", 64)
    buf[9] = 6
    wr32(buf, 12, ipnum(t.src))
    wr32(buf, 16, ipnum(t.dst))
  end
  wr16(buf, ih, field(t, "sport", 0))
  wr16(buf, ih + 2, field(t, "dport", 0))
  wr32(buf, ih + 4, field(t, "seq", 0))
  wr32(buf, ih + 8, field(t, "ack", 0))
  buf[ih + 12] = lshift(thl / 4, 4)
  local bits = t.bits
  if type(bits) ~= "number" then bits = fault.flag_bits({ flags = field(t, "flags", ".") }) end
  buf[ih + 13] = band(bits, 255)
  wr16(buf, ih + 14, field(t, "win", 65535))
  wr16(buf, ih + 18, field(t, "urg", 0))
  if #opts > 0 then ffi.copy(buf + ih + 20, opts, #opts) end
  if #payload > 0 then ffi.copy(buf + ih + thl, payload, #payload) end
  chook.fix_checksums(buf, tot)
  return tot
end

return M
