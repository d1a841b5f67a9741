-- The fault library: seeded, composable fault policies for segment hooks.
--
--   local fault = require "tcplua.fault"
--   tcplua.on_segment(fault.compose(
--     fault.inbound(fault.loss(0.02)),
--     fault.delay(40, 10, "normal"),
--     fault.port(80, fault.reset_after{ bytes = 100000 })))
--
-- A policy is a function(seg, dir, conn, now_ms) -> verdict, so it can be
-- given straight to tcplua.on_segment / conn:on_segment. `seg` is anything
-- with the segment field names (src, dst, sport, dport, seq, ack, flags,
-- win, len, payload ...): the engine's zero-copy FFI view or a plain table.
-- `dir` is "in" or "out"; `conn` a stable per-connection object or nil
-- (then connection state is keyed by the 4-tuple); now_ms a time in ms.
--
-- Verdicts (docs/fault-injection.md): nil or "pass"; "drop"; "corrupt";
-- { delay = ms }; { duplicate = n }; a replacement segment; or the general
-- table form that fault.normalize returns:
--   { drop = bool, delay = ms, duplicate = n, corrupt = bool,
--     segment = replacement, slice = max_payload_bytes, fault = "name" }
-- `fault` names what was applied (for pcap comments and --trace).
--
-- Randomness comes from per-policy xoshiro256** streams (the same
-- generator as core/rng.h), derived from the library seed and the order in
-- which policies are created: same seed, same script => same faults. It
-- never touches math.random. Verdict tables of constant verdicts are shared:
-- treat every verdict as read-only.
local ffi = require "ffi"
local bit = require "bit"

local band, bor, bxor, rshift, lshift, rol = bit.band, bit.bor, bit.bxor, bit.rshift, bit.lshift, bit.rol
local floor, log, sqrt, cos, exp, huge = math.floor, math.log, math.sqrt, math.cos, math.exp, math.huge
local type, tostring, select = type, tostring, select

local u64 = ffi.typeof("uint64_t")
local u64x4 = ffi.typeof("uint64_t[4]")

---------------------------------------------------------------------------
-- PRNG: xoshiro256** seeded through splitmix64, bit-compatible with
-- core/rng.h so a Lua policy and a C tl_impair given one seed agree.
local Rng = {}
Rng.__index = Rng

local function splitmix(x)
  x = x + 0x9e3779b97f4a7c15ULL
  local z = x
  z = bxor(z, rshift(z, 30)) * 0xbf58476d1ce4e5b9ULL
  z = bxor(z, rshift(z, 27)) * 0x94d049bb133111ebULL
  return x, bxor(z, rshift(z, 31))
end

local function to_u64(n)
  if type(n) == "cdata" then return u64(n) end
  n = tonumber(n) or 0
  if n < 0 then n = -n end
  return u64(floor(n % 18446744073709551616))
end

-- stream > 0 gives an independent generator per policy for one seed.
local function rng_new(seed, stream)
  local x = to_u64(seed)
  if stream and stream ~= 0 then x = x + to_u64(stream) * 0xd1b54a32d192ed03ULL end
  local s = u64x4()
  for i = 0, 3 do
    local z
    x, z = splitmix(x)
    s[i] = z
  end
  return setmetatable({ s = s }, Rng)
end

function Rng:next()
  local s = self.s
  local result = rol(s[1] * 5, 7) * 9
  local t = lshift(s[1], 17)
  s[2] = bxor(s[2], s[0])
  s[3] = bxor(s[3], s[1])
  s[1] = bxor(s[1], s[2])
  s[0] = bxor(s[0], s[3])
  s[2] = bxor(s[2], t)
  s[3] = rol(s[3], 45)
  return result
end

-- Uniform in [0, 1), 53 bits.
function Rng:unit()
  return tonumber(rshift(self:next(), 11)) * (1 / 9007199254740992)
end

-- Uniform integer in [0, n).
function Rng:below(n)
  return floor(self:unit() * n)
end

-- Standard normal (Box-Muller; one of the pair is discarded to keep the
-- stream position a pure function of the call count).
function Rng:normal()
  local u1 = 1 - self:unit()
  local u2 = self:unit()
  return sqrt(-2 * log(u1)) * cos(2 * math.pi * u2)
end

---------------------------------------------------------------------------
-- Segment helpers that work on plain tables and on the FFI view alike.

-- An optional field: a cdata view without it raises on access, a table
-- gives nil.
local function index(seg, k) return seg[k] end
local function opt(seg, k)
  if type(seg) ~= "cdata" then return seg[k] end
  local ok, v = pcall(index, seg, k)
  if ok then return v end
  return nil
end
local FLAG_BITS = { F = 0x01, S = 0x02, R = 0x04, P = 0x08, ["."] = 0x10, U = 0x20, E = 0x40, W = 0x80 }
-- tcpdump's order (print-tcp.c): F S R P . U E W
local FLAG_ORDER = { { "F", 0x01 }, { "S", 0x02 }, { "R", 0x04 }, { "P", 0x08 }, { ".", 0x10 }, { "U", 0x20 },
  { "E", 0x40 }, { "W", 0x80 } }

-- Canonical flag strings -> bits, filled as they are met (at most 256).
local FLAG_MEMO = {}
local FLAG_STRINGS = {}

-- Flags as bits; accepts seg.bits (number), numeric seg.flags, or a
-- tcpdump-style string ("S", "S.", "P.", "F.", "R").
local function flag_bits(seg)
  local b = opt(seg, "bits")
  if type(b) == "number" then return b end
  local f = opt(seg, "flags")
  if type(f) == "number" then return f end
  if f == nil then return 0 end
  local v = FLAG_MEMO[f]
  if v then return v end
  local str = tostring(f)
  v = 0
  for i = 1, #str do v = bor(v, FLAG_BITS[str:sub(i, i)] or 0) end
  if type(f) == "string" and FLAG_STRINGS[v] == f then FLAG_MEMO[f] = v end
  return v
end

-- tcpdump's flag string for a bit mask ("S.", "P.", "." ...).
local function flag_string(bits)
  local t = {}
  for _, p in ipairs(FLAG_ORDER) do
    if band(bits, p[2]) ~= 0 then t[#t + 1] = p[1] end
  end
  local s = table.concat(t)
  return s == "" and "none" or s
end

for b = 0, 255 do FLAG_STRINGS[b] = flag_string(b) end

local function has_flag(seg, letters)
  local want = 0
  for i = 1, #letters do want = bor(want, FLAG_BITS[letters:sub(i, i)] or 0) end
  return band(flag_bits(seg), want) == want
end

local function payload_len(seg)
  local n = opt(seg, "len")
  if n ~= nil then return tonumber(n) end
  local p = opt(seg, "payload")
  return p and #p or 0
end

-- Segment sequence length: payload plus one each for SYN and FIN.
local function seq_len(seg)
  local b = flag_bits(seg)
  return payload_len(seg) + (band(b, 0x02) ~= 0 and 1 or 0) + (band(b, 0x01) ~= 0 and 1 or 0)
end

local function options_len(seg)
  local o = opt(seg, "options")
  if type(o) == "string" then return #o end
  local n = opt(seg, "optlen")
  return n and tonumber(n) or 0
end

-- The IPv4 datagram size: seg.size if the view has it, else computed.
local function wire_size(seg)
  local s = opt(seg, "size")
  if s ~= nil then return tonumber(s) end
  return 40 + options_len(seg) + payload_len(seg)
end

-- Connection identity that both directions share.
local function tuple_key(seg)
  local a = tostring(seg.src) .. ":" .. tostring(seg.sport)
  local b = tostring(seg.dst) .. ":" .. tostring(seg.dport)
  if a < b then return a .. "-" .. b end
  return b .. "-" .. a
end

-- The fields a segment is made of; copy() reads exactly these, so it
-- copies an FFI view into a plain table too.
local FIELDS = { "src", "dst", "sport", "dport", "seq", "ack", "flags", "win", "urg", "len", "options", "payload" }

local function copy(seg, over)
  local t = {}
  for _, k in ipairs(FIELDS) do t[k] = opt(seg, k) end
  if type(t.flags) ~= "string" and t.flags ~= nil then t.flags = flag_string(flag_bits(seg)) end
  if over then for k, v in pairs(over) do t[k] = v end end
  return t
end

-- Split a segment into pieces of at most n payload bytes (sequence numbers
-- follow; FIN and PSH stay on the last piece, SYN on the first).
local function split(seg, n)
  local len = payload_len(seg)
  if len <= n then return { seg } end
  local bits = flag_bits(seg)
  local data = seg.payload and tostring(seg.payload)
  local pieces = {}
  local off = 0
  local seq0 = tonumber(seg.seq)
  local syn = band(bits, 0x02) ~= 0 and 1 or 0
  while off < len do
    local m = math.min(n, len - off)
    local last = off + m >= len
    local b = bits
    if off > 0 then b = band(b, bit.bnot(0x02)) end
    if not last then b = band(b, bit.bnot(0x09)) end
    local seq = (seq0 + off + (off > 0 and syn or 0)) % 4294967296
    pieces[#pieces + 1] = copy(seg, {
      seq = seq, len = m, flags = flag_string(b),
      payload = data and data:sub(off + 1, off + m) or nil,
    })
    off = off + m
  end
  return pieces
end

-- A reset standing in for a segment, travelling the same way.
local function rst_for(seg)
  return copy(seg, { flags = "R.", len = 0, payload = "", win = 0, options = "" })
end

-- A reset to the sender of seg, as from its peer: its sequence number is
-- what the sender acknowledged (its RCV.NXT), so the sender takes it (RFC
-- 9293 3.10.7.4, RFC 5961 3.2 exact match). nil for a segment without ACK.
local function rst_back(seg)
  if band(flag_bits(seg), 0x10) == 0 then return nil end
  return copy(seg, { src = opt(seg, "dst"), dst = opt(seg, "src"), sport = opt(seg, "dport"),
    dport = opt(seg, "sport"), seq = opt(seg, "ack"), ack = (tonumber(opt(seg, "seq")) + seq_len(seg)) % 4294967296,
    flags = "R.", len = 0, payload = "", win = 0, options = "" })
end

---------------------------------------------------------------------------
-- Verdicts
local function is_segment(v)
  return type(v) == "table" and v.seq ~= nil and v.sport ~= nil
end

-- Any verdict -> nil (pass) or the general table form.
local function normalize(v)
  if v == nil or v == "pass" or v == true then return nil end
  if v == "drop" or v == false then return { drop = true } end
  if v == "corrupt" then return { corrupt = true } end
  if type(v) == "table" then
    if is_segment(v) then return { segment = v } end
    return v
  end
  if type(v) == "cdata" then return { segment = v } end
  error("fault: unknown verdict " .. tostring(v), 2)
end

local function join_names(a, b)
  if not a then return b end
  if not b then return a end
  return a .. "+" .. b
end

-- Fold verdict b into the accumulated general form acc.
local function merge(acc, b)
  local out = {}
  if acc then for k, v in pairs(acc) do out[k] = v end end
  out.delay = (out.delay or 0) + (b.delay or 0)
  if out.delay == 0 then out.delay = nil end
  out.duplicate = (out.duplicate or 0) + (b.duplicate or 0)
  if out.duplicate == 0 then out.duplicate = nil end
  out.corrupt = out.corrupt or b.corrupt or nil
  out.drop = out.drop or b.drop or nil
  if b.segment ~= nil then out.segment = b.segment end
  if b.reverse ~= nil then out.reverse = b.reverse end
  if b.slice then out.slice = math.min(out.slice or huge, b.slice) end
  out.fault = join_names(out.fault, b.fault)
  return out
end

-- A short human note for a verdict (pcap comments, --trace):
-- "dropped by fault: loss", "fault: delay (delayed 40.000 ms)".
local function describe(v)
  v = normalize(v)
  if not v then return nil end
  local name = v.fault
  if v.drop then return name and "dropped by fault: " .. name or "dropped by hook" end
  name = name or "hook"
  local parts = {}
  if v.delay then parts[#parts + 1] = string.format("delayed %.3f ms", v.delay) end
  if v.duplicate then parts[#parts + 1] = "duplicated x" .. v.duplicate end
  if v.corrupt then parts[#parts + 1] = "corrupted" end
  if v.segment ~= nil then parts[#parts + 1] = "replaced" end
  if v.slice then parts[#parts + 1] = "sliced to " .. v.slice end
  if #parts == 0 then return "fault: " .. name end
  return "fault: " .. name .. " (" .. table.concat(parts, ", ") .. ")"
end

---------------------------------------------------------------------------
-- A library instance: its seed, its counters and the policy constructors.
-- The module itself is one instance; fault.new(seed) makes another.
local function make(seed)
  local F = {}
  local ctx = { seed = seed or 1, streams = 0, counts = {} }

  local function stream()
    ctx.streams = ctx.streams + 1
    return rng_new(ctx.seed, ctx.streams)
  end

  local function rng_for(opts)
    if opts and opts.seed then return rng_new(opts.seed, 0) end
    return stream()
  end

  local function count(name)
    ctx.counts[name] = (ctx.counts[name] or 0) + 1
  end

  -- Constant verdicts, shared.
  local drops = {}
  local function drop(name)
    count(name)
    local v = drops[name]
    if not v then
      v = { drop = true, fault = name }
      drops[name] = v
    end
    return v
  end

  -- Per-connection state for a policy. A segment with addresses and ports
  -- is keyed by its 4-tuple, both ways alike: the conn object a hook gets
  -- is nil before accept and after the connection ends, so keying by it
  -- would split one connection's state (a reset_after fired twice). A SYN
  -- without ACK starts the tuple afresh (a new incarnation). Segments
  -- without ports (plain tables) are keyed by conn object (weak keys).
  local function per_conn()
    local objs = setmetatable({}, { __mode = "k" })
    local tuples, ntuples = {}, 0
    return function(seg, conn, dir)
      local t
      local sport = opt(seg, "sport")
      if sport == nil and conn ~= nil and (type(conn) == "table" or type(conn) == "userdata") then
        t = objs[conn]
        if not t then
          t = {}
          objs[conn] = t
        end
      else
        local k = tuple_key(seg)
        t = tuples[k]
        if t and sport ~= nil and band(flag_bits(seg), 0x12) == 0x02 and t.syn_seq ~= tonumber(opt(seg, "seq")) then
          t = nil -- a new connection on the same ports
        end
        if not t then
          -- Bounded: a flood of tuples cannot grow this without limit.
          if ntuples >= 65536 then tuples, ntuples = {}, 0 end
          t = {}
          if sport ~= nil and band(flag_bits(seg), 0x12) == 0x02 then t.syn_seq = tonumber(opt(seg, "seq")) end
          tuples[k] = t
          ntuples = ntuples + 1
        end
      end
      if dir then
        local d = t[dir]
        if not d then
          d = {}
          t[dir] = d
        end
        return d
      end
      return t
    end
  end

  function F.seed(n)
    ctx.seed = n
    ctx.streams = 0
  end

  function F.new(n) return make(n) end

  -- Faults applied so far, by name: { loss = 12, delay = 480, ... }.
  function F.stats()
    local t = {}
    for k, v in pairs(ctx.counts) do t[k] = v end
    return t
  end

  function F.reset_stats() ctx.counts = {} end

  function F.rng(n, s) return rng_new(n or ctx.seed, s or 0) end

  local function check_p(p, what)
    p = tonumber(p)
    if not p or p < 0 or p > 1 then error("fault." .. what .. ": probability must be in [0, 1], got " .. tostring(p), 3) end
    return p
  end

  ---- loss(p): Bernoulli loss (netem `loss random`).
  function F.loss(p, opts)
    p = check_p(p, "loss")
    local rng = rng_for(opts)
    return function()
      if rng:unit() < p then return drop("loss") end
    end
  end

  ---- burst_loss(p, r, loss_bad, loss_good): Gilbert-Elliott, arguments in
  -- the order and meaning of netem's `loss gemodel p r 1-h 1-k` (as
  -- probabilities, not percent): p good->bad, r bad->good, loss_bad = 1-h,
  -- loss_good = 1-k. Defaults as netem: r = 1-p, loss_bad = 1, loss_good = 0.
  -- A table { p =, r =, loss_bad =, loss_good = } works too.
  function F.burst_loss(p, r, lb, lg, opts)
    if type(p) == "table" then
      opts = p
      p, r, lb, lg = p.p, p.r, p.loss_bad, p.loss_good
    end
    p = check_p(p, "burst_loss")
    r = check_p(r or (1 - p), "burst_loss")
    lb = check_p(lb or 1, "burst_loss")
    lg = check_p(lg or 0, "burst_loss")
    local rng = rng_for(opts)
    local bad = false
    return function()
      -- As netem's loss_gilb_ell: the state at arrival decides the loss
      -- probability, then the chain steps.
      local lose
      if bad then
        lose = rng:unit() < lb
        if rng:unit() < r then bad = false end
      else
        lose = rng:unit() < lg
        if rng:unit() < p then bad = true end
      end
      if lose then return drop("burst_loss") end
    end
  end

  ---- delay(ms, jitter, distribution): fixed delay plus jitter drawn from
  -- "uniform" (+-jitter), "normal" (sd = jitter) or "pareto" (heavy tail,
  -- mean extra = jitter). Never negative. Like netem, jitter can reorder.
  function F.delay(ms, jitter, dist, opts)
    if type(ms) == "table" then
      opts = ms
      ms, jitter, dist = ms.ms, ms.jitter, ms.distribution
    end
    ms = tonumber(ms) or error("fault.delay: ms must be a number", 2)
    jitter = tonumber(jitter) or 0
    dist = dist or "uniform"
    if dist ~= "uniform" and dist ~= "normal" and dist ~= "pareto" then
      error("fault.delay: distribution must be uniform, normal or pareto, got " .. tostring(dist), 2)
    end
    local rng = rng_for(opts)
    local alpha = 3 -- Pareto shape: finite variance, visible tail
    return function()
      local d = ms
      if jitter > 0 then
        if dist == "uniform" then
          d = ms + jitter * (2 * rng:unit() - 1)
        elseif dist == "normal" then
          d = ms + jitter * rng:normal()
        else
          -- Pareto with x_m = 1 has mean alpha/(alpha-1); shifted and
          -- scaled so the mean extra delay is `jitter`.
          local x = (1 - rng:unit()) ^ (-1 / alpha)
          d = ms + jitter * (x - 1) * (alpha - 1)
        end
      end
      if d < 0 then d = 0 end
      if d == 0 then return nil end
      count("delay")
      return { delay = d, fault = "delay" }
    end
  end

  ---- reorder(p, gap_ms): with probability p a segment is held back gap_ms
  -- (default 10), so the segments sent behind it overtake it.
  function F.reorder(p, gap, opts)
    p = check_p(p, "reorder")
    gap = tonumber(gap) or 10
    local rng = rng_for(opts)
    return function()
      if rng:unit() < p then
        count("reorder")
        return { delay = gap, fault = "reorder" }
      end
    end
  end

  ---- duplicate(p): send the segment twice.
  function F.duplicate(p, opts)
    p = check_p(p, "duplicate")
    local rng = rng_for(opts)
    local v = { duplicate = 1, fault = "duplicate" }
    return function()
      if rng:unit() < p then
        count("duplicate")
        return v
      end
    end
  end

  ---- corrupt(p): flip one bit, checksum left wrong (the receiver drops it).
  function F.corrupt(p, opts)
    p = check_p(p, "corrupt")
    local rng = rng_for(opts)
    local v = { corrupt = true, fault = "corrupt" }
    return function()
      if rng:unit() < p then
        count("corrupt")
        return v
      end
    end
  end

  -- opts.per: "connection" (each connection and direction on its own,
  -- as a toxiproxy toxic on one stream of one connection) or "shared" (one
  -- state for every segment the policy sees). opts.per_conn = true is the
  -- old spelling of "connection".
  local function scope(opts, default, what)
    local per = opts and opts.per
    if per == nil and opts and opts.per_conn ~= nil then per = opts.per_conn and "connection" or "shared" end
    per = per or default
    if per ~= "connection" and per ~= "shared" then
      error("fault." .. what .. ": per must be \"connection\" or \"shared\"", 3)
    end
    return per
  end

  ---- rate(bps, burst_bytes, opts): token bucket shaper. Segments beyond
  -- the bucket wait (a delay verdict) for the tokens they need, so order is
  -- kept and the long-run rate is bps. opts.limit_ms: a segment that would
  -- wait longer is dropped instead (tbf's latency); default: no limit.
  -- opts.per: one bucket per connection and direction ("connection", the
  -- default, as toxiproxy's bandwidth toxic) or one for all ("shared", as
  -- tc's tbf on a link).
  function F.rate(bps, burst, opts)
    if type(burst) == "table" and opts == nil then burst, opts = nil, burst end
    bps = tonumber(bps)
    if not bps or bps <= 0 then error("fault.rate: bits per second must be > 0", 2) end
    burst = tonumber(burst) or 1500
    local limit = opts and opts.limit_ms
    local per_ms = bps / 8000 -- bytes per millisecond
    local shared = { tokens = burst }
    local state = scope(opts, "connection", "rate") == "connection" and per_conn()
    return function(seg, dir, conn, now)
      now = now or 0
      local b = state and state(seg, conn, dir or "?") or shared
      if b.tokens == nil then b.tokens = burst end
      if b.last == nil then b.last = now end
      if now > b.last then
        b.tokens = math.min(burst, b.tokens + (now - b.last) * per_ms)
        b.last = now
      end
      local size = wire_size(seg)
      b.tokens = b.tokens - size
      if b.tokens >= 0 then return nil end
      local wait = -b.tokens / per_ms
      if limit and wait > limit then
        b.tokens = b.tokens + size
        return drop("rate_drop")
      end
      count("rate")
      return { delay = wait, fault = "rate" }
    end
  end

  ---- size_limit(bytes): datagrams larger than bytes vanish silently, an
  -- MTU black hole (no ICMP "fragmentation needed").
  function F.size_limit(bytes)
    bytes = tonumber(bytes) or error("fault.size_limit: bytes must be a number", 2)
    return function(seg)
      if wire_size(seg) > bytes then return drop("size_limit") end
    end
  end

  ---- drop_first(n, opts): drop the first n segments of each connection
  -- and direction (opts.per = "shared": the first n this policy sees).
  function F.drop_first(n, opts)
    n = tonumber(n) or error("fault.drop_first: n must be a number", 2)
    local seen = 0
    local state = scope(opts, "connection", "drop_first") == "connection" and per_conn()
    return function(seg, dir, conn)
      if state then
        local s = state(seg, conn, dir)
        s.n = (s.n or 0) + 1
        if s.n <= n then return drop("drop_first") end
        return nil
      end
      seen = seen + 1
      if seen <= n then return drop("drop_first") end
    end
  end

  -- Offset in the byte stream of a segment's end, per connection and
  -- direction: counted from the first sequence number seen (SYN counts
  -- one), so retransmissions do not count twice.
  local function stream_end(s, seg)
    local seq = tonumber(seg.seq) or 0
    if s.base == nil then
      s.base = (band(flag_bits(seg), 0x02) ~= 0) and (seq + 1) % 4294967296 or seq
    end
    return ((seq + payload_len(seg)) - s.base) % 4294967296
  end

  ---- stall_after(bytes, opts): after `bytes` of a connection's data in a
  -- direction, nothing more gets through in that direction (toxiproxy's
  -- `timeout`). opts.timeout_ms: once stalled that long, the next segment
  -- is turned into a RST (toxiproxy closes after its timeout).
  function F.stall_after(bytes, opts)
    bytes = tonumber(bytes) or error("fault.stall_after: bytes must be a number", 2)
    local timeout = opts and opts.timeout_ms
    local state = per_conn()
    return function(seg, dir, conn, now)
      local s = state(seg, conn, dir)
      if s.reset then return drop("stall_drop") end
      if not s.stalled then
        if stream_end(s, seg) <= bytes or payload_len(seg) == 0 then return nil end
        s.stalled = now or 0
      end
      if timeout and (now or 0) - s.stalled >= timeout then
        s.reset = true
        count("stall_reset")
        return { segment = rst_for(seg), fault = "stall_reset" }
      end
      return drop("stall")
    end
  end

  ---- reset_after(n | { bytes = n } | { ms = t }): the segment carrying
  -- data past byte n of a connection's stream (per direction), or the first
  -- one seen t ms after the connection's first segment, is replaced by a RST
  -- (toxiproxy's reset_peer), and a RST goes back to its sender too, so
  -- both ends learn of it (toxiproxy closes both sides); later segments
  -- of that connection are dropped.
  function F.reset_after(arg)
    local bytes, ms
    if type(arg) == "table" then
      bytes, ms = tonumber(arg.bytes), tonumber(arg.ms)
    else
      bytes = tonumber(arg)
    end
    if not bytes and not ms then error("fault.reset_after: give bytes or { ms = t }", 2) end
    local state = per_conn()
    return function(seg, dir, conn, now)
      local c = state(seg, conn)
      if c.reset then return drop("reset_drop") end
      now = now or 0
      if c.t0 == nil then c.t0 = now end
      local fire = ms and now - c.t0 >= ms
      if not fire and bytes then
        local s = c[dir or "?"]
        if not s then
          s = {}
          c[dir or "?"] = s
        end
        fire = payload_len(seg) > 0 and stream_end(s, seg) > bytes
      end
      if fire then
        c.reset = true
        count("reset")
        return { segment = rst_for(seg), reverse = rst_back(seg), fault = "reset" }
      end
    end
  end

  ---- slice(max_bytes, opts): outgoing segments with more payload are split
  -- into pieces of at most max_bytes (opts.dir = "in" or "both" to change
  -- which way). The engine does the split (fault.split for plain tables).
  function F.slice(max, opts)
    max = tonumber(max)
    if not max or max < 1 then error("fault.slice: max_bytes must be >= 1", 2) end
    local want = opts and opts.dir or "out"
    local v = { slice = max, fault = "slice" }
    return function(seg, dir)
      if (want == "both" or dir == want) and payload_len(seg) > max then
        count("slice")
        return v
      end
    end
  end

  ---- Selectors -------------------------------------------------------------

  -- A predicate from a table: every key must match. flags: all the given
  -- letters are set; payload: contains the string (plain find); dir;
  -- any other field: equal (addresses as strings or numbers, as the
  -- segment has them).
  local function matcher(t)
    return function(seg, dir)
      for k, want in pairs(t) do
        if k == "dir" then
          if dir ~= want then return false end
        elseif k == "flags" then
          if not has_flag(seg, want) then return false end
        elseif k == "payload" then
          local p = opt(seg, "payload")
          if p == nil or not tostring(p):find(want, 1, true) then return false end
        elseif k == "port" then
          if seg.sport ~= want and seg.dport ~= want then return false end
        else
          local v = opt(seg, k)
          if v ~= want and tostring(v) ~= tostring(want) then return false end
        end
      end
      return true
    end
  end

  ---- when(predicate, policy): policy applies only where predicate(seg,
  -- dir, conn, now_ms) is true; predicate may be a table (see matcher).
  function F.when(pred, policy)
    if type(pred) == "table" then pred = matcher(pred) end
    assert(type(pred) == "function", "fault.when: predicate must be a function or a table")
    assert(type(policy) == "function", "fault.when: policy must be a function")
    return function(seg, dir, conn, now)
      if pred(seg, dir, conn, now) then return policy(seg, dir, conn, now) end
    end
  end

  function F.dir(d, policy)
    assert(d == "in" or d == "out", "fault.dir: direction must be \"in\" or \"out\"")
    return F.when(function(_, dir) return dir == d end, policy)
  end

  function F.inbound(policy) return F.dir("in", policy) end

  function F.outbound(policy) return F.dir("out", policy) end

  -- Segments to or from a port (either side).
  function F.port(port, policy)
    port = tonumber(port)
    return F.when(function(seg) return tonumber(seg.sport) == port or tonumber(seg.dport) == port end, policy)
  end

  -- One connection: a conn object (compared by identity), or a table
  -- matched against the segment in either direction, e.g.
  -- { src = "10.77.0.1", sport = 40000 }.
  function F.conn(c, policy)
    if type(c) == "table" and (c.sport or c.dport or c.src or c.dst) then
      local fwd = matcher(c)
      local rev = matcher({ src = c.dst, dst = c.src, sport = c.dport, dport = c.sport })
      return F.when(function(seg, dir) return fwd(seg, dir) or rev(seg, dir) end, policy)
    end
    return F.when(function(_, _, conn) return conn == c end, policy)
  end

  -- A coin flipped once per connection (toxiproxy's `toxicity`): with
  -- probability p the whole connection gets the policy, else none of it.
  function F.toxicity(p, policy)
    p = check_p(p, "toxicity")
    local rng = stream()
    local state = per_conn()
    return F.when(function(seg, _, conn)
      local c = state(seg, conn)
      if c.on == nil then c.on = rng:unit() < p end
      return c.on
    end, policy)
  end

  -- Only between t0 and t1 ms (t1 nil: from t0 on).
  function F.between(t0, t1, policy)
    return F.when(function(_, _, _, now)
      now = now or 0
      return now >= t0 and (t1 == nil or now < t1)
    end, policy)
  end

  ---- compose(p1, p2, ...): run policies in order. A drop ends the chain;
  -- delays add up, duplicates add up, corruption sticks, a replacement
  -- segment is what later policies see.
  function F.compose(...)
    local ps = { ... }
    local n = select("#", ...)
    for i = 1, n do
      assert(type(ps[i]) == "function", "fault.compose: argument " .. i .. " is not a policy")
    end
    return function(seg, dir, conn, now)
      local acc, single
      for i = 1, n do
        local v = ps[i](seg, dir, conn, now)
        if v ~= nil and v ~= "pass" then
          local nv = normalize(v)
          if nv then
            if nv.drop then return nv end
            if acc == nil and single == nil then
              single = v
              acc = nv
            else
              single = nil
              acc = merge(acc, nv)
            end
            if nv.segment ~= nil then seg = nv.segment end
          end
        end
      end
      if single ~= nil then return single end
      return acc
    end
  end

  -- Utilities shared by every instance.
  F.normalize = normalize
  F.merge = merge
  F.describe = describe
  F.split = split
  F.copy = copy
  F.flag_bits = flag_bits
  F.flag_string = flag_string
  F.has_flag = has_flag
  F.wire_size = wire_size
  F.seq_len = seq_len
  F.FLAGS = FLAG_BITS
  return F
end

return make(1)
