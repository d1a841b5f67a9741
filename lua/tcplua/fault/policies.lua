-- The fault library's policies: each constructor takes the library
-- instance's context (its seed, random streams and counters; tcplua.fault
-- binds it) and returns a policy, function(seg, dir, conn, now_ms) ->
-- verdict. docs/fault-injection.md describes each.
local bit = require "bit"
local seg_ = require "tcplua.fault.seg"
local rng_ = require "tcplua.fault.rng"

local band = bit.band
local type, tostring = type, tostring
local payload_len, wire_size, flag_bits, per_conn, rst_for, rst_back =
  seg_.payload_len, seg_.wire_size, seg_.flag_bits, seg_.per_conn, seg_.rst_for, seg_.rst_back

local P = {}

function P.check_p(p, what)
  p = tonumber(p)
  if not p or p < 0 or p > 1 then error("fault." .. what .. ": probability must be in [0, 1], got " .. tostring(p), 3) end
  return p
end

-- opts may be a number (the correlation), a table with `corr`, or nil.
local function corr_of(opts, what)
  local c = type(opts) == "number" and opts or type(opts) == "table" and opts.corr or 0
  c = tonumber(c)
  if not c or c < 0 or c > 1 then error("fault." .. what .. ": correlation must be in [0, 1], got " .. tostring(c), 3) end
  return c, type(opts) == "table" and opts or nil
end

---- loss(p, corr): netem's `loss random P [CORR]`: drop with probability
-- p; with corr, successive outcomes have lag-1 correlation corr and the
-- rate stays p (losses come in runs of mean 1/((1-p)(1-corr))).
function P.loss(ctx, p, opts)
  p = P.check_p(p, "loss")
  local corr
  corr, opts = corr_of(opts, "loss")
  local rng = ctx:rng_for(opts)
  if corr > 0 then
    local st = {}
    return function()
      if rng:event(st, p, corr) then return ctx:drop("loss") end
    end
  end
  return function()
    if rng:unit() < p then return ctx:drop("loss") end
  end
end

---- burst_loss(p, r, loss_bad, loss_good): Gilbert-Elliott, arguments in
-- the order and meaning of netem's `loss gemodel p r 1-h 1-k` (as
-- probabilities, not percent): p good->bad, r bad->good, loss_bad = 1-h,
-- loss_good = 1-k. Defaults as netem: r = 1-p, loss_bad = 1, loss_good = 0.
-- A table { p =, r =, loss_bad =, loss_good = } works too.
function P.burst_loss(ctx, p, r, lb, lg, opts)
  if type(p) == "table" then
    opts = p
    p, r, lb, lg = p.p, p.r, p.loss_bad, p.loss_good
  end
  p = P.check_p(p, "burst_loss")
  r = P.check_p(r or (1 - p), "burst_loss")
  lb = P.check_p(lb or 1, "burst_loss")
  lg = P.check_p(lg or 0, "burst_loss")
  local rng = ctx:rng_for(opts)
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
    if lose then return ctx:drop("burst_loss") end
  end
end

local phi, pareto_q = rng_.phi, rng_.pareto_q
local DISTS = { uniform = true, normal = true, pareto = true, paretonormal = true }

-- Jitter (in units of jitter) at standard normal z: the distribution's
-- value at the quantile phi(z), so a correlated z keeps the shape.
local function jitter_at(dist, z)
  if dist == "normal" then return z end
  local u = phi(z)
  if dist == "uniform" then return 2 * u - 1 end
  if dist == "pareto" then return ((1 - u) ^ (-1 / 3) - 1) * 2 end -- as below: mean 1, never < 0
  return 0.25 * z + 0.75 * pareto_q(u) -- netem's paretonormal
end
P._jitter_at = jitter_at -- not a constructor (bind skips "_" names): for fault.slot

---- delay(ms, jitter, distribution, opts): fixed delay plus jitter drawn
-- from "uniform" (+-jitter), "normal" (sd = jitter), "pareto" (heavy tail,
-- mean extra = jitter) or "paretonormal" (netem's: a quarter normal, three
-- quarters its centred pareto, sd about jitter). Never negative. Like
-- netem, jitter can reorder. opts.corr (netem's `delay T J CORR`):
-- successive jitters have lag-1 rank correlation corr, each keeping its
-- distribution.
function P.delay(ctx, ms, jitter, dist, opts)
  if type(ms) == "table" then
    opts = ms
    ms, jitter, dist = ms.ms, ms.jitter, ms.distribution
  end
  ms = tonumber(ms) or error("fault.delay: ms must be a number", 2)
  jitter = tonumber(jitter) or 0
  dist = dist or "uniform"
  if not DISTS[dist] then
    error("fault.delay: distribution must be uniform, normal, pareto or paretonormal, got " .. tostring(dist), 2)
  end
  local corr = tonumber(opts and opts.corr) or 0
  if corr < 0 or corr > 1 then error("fault.delay: corr must be in [0, 1]", 2) end
  local rng = ctx:rng_for(opts)
  local alpha = 3 -- Pareto shape: finite variance, visible tail
  local st = {}
  return function()
    local d = ms
    if jitter > 0 and (corr > 0 or dist == "paretonormal") then
      d = ms + jitter * jitter_at(dist, rng:corr_normal(st, corr))
    elseif jitter > 0 then
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
    ctx:count("delay")
    return { delay = d, fault = "delay" }
  end
end

---- reorder(p, gap_ms, opts): with probability p a segment is held back
-- gap_ms (default 10), so the segments sent behind it overtake it.
-- opts.corr: correlation of successive choices (as loss's).
function P.reorder(ctx, p, gap, opts)
  p = P.check_p(p, "reorder")
  gap = tonumber(gap) or 10
  local corr
  corr, opts = corr_of(opts, "reorder")
  local rng = ctx:rng_for(opts)
  local st = {}
  return function()
    if rng:event(st, p, corr) then
      ctx:count("reorder")
      return { delay = gap, fault = "reorder" }
    end
  end
end

-- A constant verdict v, with probability p per segment, counted as name.
-- Tail-called by its constructors, so check_p's level names the script.
local function coin(ctx, name, p, opts, v)
  p = P.check_p(p, name)
  local corr
  corr, opts = corr_of(opts, name)
  local rng = ctx:rng_for(opts)
  local st = {}
  return function()
    if rng:event(st, p, corr) then
      ctx:count(name)
      return v
    end
  end
end

---- duplicate(p, corr): send the segment twice (corr as loss's).
function P.duplicate(ctx, p, opts) return coin(ctx, "duplicate", p, opts, { duplicate = 1, fault = "duplicate" }) end

---- corrupt(p, corr): flip one bit, checksum left wrong (the receiver drops it).
function P.corrupt(ctx, p, opts) return coin(ctx, "corrupt", p, opts, { corrupt = true, fault = "corrupt" }) end

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
-- tc's tbf on a link). opts.overhead, opts.cell, opts.cell_overhead:
-- netem's `rate R OVERHEAD CELLSIZE CELLOVERHEAD`: each segment costs its
-- datagram size plus overhead, rounded up to whole cells of cell bytes,
-- each carried in cell + cell_overhead.
function P.rate(ctx, bps, burst, opts)
  if type(burst) == "table" and opts == nil then burst, opts = nil, burst end
  bps = tonumber(bps)
  if not bps or bps <= 0 then error("fault.rate: bits per second must be > 0", 2) end
  burst = tonumber(burst) or 1500
  local limit = opts and opts.limit_ms
  local per_ms = bps / 8000 -- bytes per millisecond
  local shared = { tokens = burst }
  local state = scope(opts, "connection", "rate") == "connection" and per_conn()
  local ovh = tonumber(opts and opts.overhead) or 0
  local cell = tonumber(opts and opts.cell) or 0
  local covh = tonumber(opts and opts.cell_overhead) or 0
  local function charge(n)
    n = math.max(n + ovh, 0)
    if cell > 0 then n = math.max(math.ceil(n / cell) * (cell + covh), 0) end
    return n
  end
  return function(seg, dir, conn, now)
    now = now or 0
    local b = state and state(seg, conn, dir or "?") or shared
    if b.tokens == nil then b.tokens = burst end
    if b.last == nil then b.last = now end
    if now > b.last then
      b.tokens = math.min(burst, b.tokens + (now - b.last) * per_ms)
      b.last = now
    end
    local size = charge(wire_size(seg))
    b.tokens = b.tokens - size
    if b.tokens >= 0 then return nil end
    local wait = -b.tokens / per_ms
    if limit and wait > limit then
      b.tokens = b.tokens + size
      return ctx:drop("rate_drop")
    end
    ctx:count("rate")
    return { delay = wait, fault = "rate" }
  end
end

---- size_limit(bytes): datagrams larger than bytes vanish silently, an
-- MTU black hole (no ICMP "fragmentation needed").
function P.size_limit(ctx, bytes)
  bytes = tonumber(bytes) or error("fault.size_limit: bytes must be a number", 2)
  return function(seg)
    if wire_size(seg) > bytes then return ctx:drop("size_limit") end
  end
end

---- drop_first(n, opts): drop the first n segments of each connection
-- and direction (opts.per = "shared": the first n this policy sees).
function P.drop_first(ctx, n, opts)
  n = tonumber(n) or error("fault.drop_first: n must be a number", 2)
  local seen = 0
  local state = scope(opts, "connection", "drop_first") == "connection" and per_conn()
  return function(seg, dir, conn)
    if state then
      local s = state(seg, conn, dir)
      s.n = (s.n or 0) + 1
      if s.n <= n then return ctx:drop("drop_first") end
      return nil
    end
    seen = seen + 1
    if seen <= n then return ctx:drop("drop_first") end
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
function P.stall_after(ctx, bytes, opts)
  bytes = tonumber(bytes) or error("fault.stall_after: bytes must be a number", 2)
  local timeout = opts and opts.timeout_ms
  local state = per_conn()
  return function(seg, dir, conn, now)
    local s = state(seg, conn, dir)
    if s.reset then return ctx:drop("stall_drop") end
    if not s.stalled then
      if stream_end(s, seg) <= bytes or payload_len(seg) == 0 then return nil end
      s.stalled = now or 0
    end
    if timeout and (now or 0) - s.stalled >= timeout then
      s.reset = true
      ctx:count("stall_reset")
      return { segment = rst_for(seg), fault = "stall_reset" }
    end
    return ctx:drop("stall")
  end
end

---- reset_after(n | { bytes = n } | { ms = t }): the segment carrying
-- data past byte n of a connection's stream (per direction), or the first
-- one seen t ms after the connection's first segment, is replaced by a RST
-- (toxiproxy's reset_peer), and a RST goes back to its sender too, so
-- both ends learn of it (toxiproxy closes both sides); later segments
-- of that connection are dropped.
function P.reset_after(ctx, arg)
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
    if c.reset then return ctx:drop("reset_drop") end
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
      ctx:count("reset")
      return { segment = rst_for(seg), reverse = rst_back(seg), fault = "reset" }
    end
  end
end

---- slice(max_bytes, opts): outgoing segments with more payload are split
-- into pieces of at most max_bytes (opts.dir = "in" or "both" to change
-- which way). The engine does the split (fault.split for plain tables).
function P.slice(ctx, max, opts)
  max = tonumber(max)
  if not max or max < 1 then error("fault.slice: max_bytes must be >= 1", 2) end
  local want = opts and opts.dir or "out"
  local v = { slice = max, fault = "slice" }
  return function(seg, dir)
    if (want == "both" or dir == want) and payload_len(seg) > max then
      ctx:count("slice")
      return v
    end
  end
end

return P
