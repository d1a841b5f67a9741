-- The fault library's netem models beyond the classic ones: the 4-state
-- loss chain (netem `loss state`), slot pacing (netem `slot`), and
-- fault.netem(words), a policy built from a tc-netem argument line. Each
-- constructor takes the library instance's context (tcplua.fault binds
-- it); docs/fault-injection.md describes each.
local seg_ = require "tcplua.fault.seg"
local policies = require "tcplua.fault.policies"
local selectors = require "tcplua.fault.select"

local wire_size = seg_.wire_size
local check_p = policies.check_p
local type, tonumber, tostring, unpack = type, tonumber, tostring, unpack

local N = {}

---- loss_state(p13, p31, p32, p23, p14): netem's 4-state Markov loss
-- model (as probabilities, not percent), iproute2's defaults: p31 = 1 - p13,
-- p32 = 0, p23 = 1, p14 = 0. States: 1 received in a gap, 2 received in a
-- burst, 3 lost in a burst, 4 lost alone; a segment is lost when the
-- chain enters or stays in 3, or enters 4. Also loss_state{ p13 =, ... }.
function N.loss_state(ctx, p13, p31, p32, p23, p14, opts)
  if type(p13) == "table" then
    opts = p13
    p13, p31, p32, p23, p14 = p13.p13, p13.p31, p13.p32, p13.p23, p13.p14
  end
  p13 = check_p(p13, "loss_state")
  p31 = check_p(p31 or (1 - p13), "loss_state")
  p32 = check_p(p32 or 0, "loss_state")
  p23 = check_p(p23 or 1, "loss_state")
  p14 = check_p(p14 or 0, "loss_state")
  local rng = ctx:rng_for(opts)
  local state = 1
  return function()
    local u, lose = rng:unit(), false
    if state == 1 then
      if u < p14 then
        state, lose = 4, true
      elseif u < p14 + p13 then
        state, lose = 3, true
      end
    elseif state == 2 then
      if u < p23 then state, lose = 3, true end
    elseif state == 3 then
      if u < p32 then
        state = 2
      elseif u < p32 + p31 then
        state = 1
      else
        lose = true
      end
    else
      state = 1
    end
    if lose then return ctx:drop("loss_state") end
  end
end

local DIST_SD = { normal = true, pareto = true, paretonormal = true }

---- slot(min_ms, max_ms, opts): netem's slot pacing. Segments leave only
-- when a slot opens: the first one after a quiet spell waits for a slot
-- drawn min..max ms ahead (uniform; or with opts.distribution "normal",
-- "pareto", "paretonormal": min_ms is the mean, opts.jitter the spread);
-- the ones arriving until then go with it. A slot carries at most
-- opts.packets segments and opts.bytes bytes (datagram sizes; the one
-- that overdraws still goes), then the next opens min..max later. State is
-- per direction. Also slot{ min =, max =, packets =, bytes =, ... }.
function N.slot(ctx, min, max, opts)
  if type(min) == "table" then
    opts = min
    min, max = min.min, min.max
  end
  opts = opts or {}
  min = tonumber(min)
  if not min or min < 0 then error("fault.slot: min_ms must be a number >= 0", 2) end
  max = tonumber(max) or min
  if max < min then error("fault.slot: max_ms below min_ms", 2) end
  local dist, jitter = opts.distribution, tonumber(opts.jitter) or 0
  if dist ~= nil and not DIST_SD[dist] then
    error("fault.slot: distribution must be normal, pareto or paretonormal, got " .. tostring(dist), 2)
  end
  local packets, bytes = tonumber(opts.packets) or math.huge, tonumber(opts.bytes) or math.huge
  local rng = ctx:rng_for(opts)
  local jitter_at = policies._jitter_at
  local states = {}
  local function open(s, from)
    local d
    if dist then
      d = math.max(0, min + jitter * jitter_at(dist, rng:normal()))
    else
      d = min + (max - min) * rng:unit()
    end
    s.next, s.packets, s.bytes = from + d, packets, bytes
  end
  return function(seg, dir, _, now)
    now = now or 0
    local key = dir or "?"
    local s = states[key]
    if not s then
      s = {}
      states[key] = s
    end
    -- A slot that opened before this segment came is stale: netem draws a
    -- new one from now (sch_netem.c, netem_dequeue).
    if s.next == nil or s.next < now then open(s, now) end
    local release = s.next
    s.packets = s.packets - 1
    s.bytes = s.bytes - wire_size(seg)
    if s.packets <= 0 or s.bytes <= 0 then open(s, release) end
    if release <= now then return nil end
    ctx:count("slot")
    return { delay = release - now, fault = "slot" }
  end
end

-- netem's delay with its reorder: the segments reorder picks skip the
-- delay, so they overtake the ones delayed before them.
local function delay_reorder(ctx, c)
  local d = policies.delay(ctx, c.delay_ms, c.jitter_ms, c.delay_dist, { corr = c.delay_corr })
  if not (c.reorder > 0) then return d end
  local rng, st = ctx:stream(), {}
  return function(...)
    if rng:event(st, c.reorder, c.reorder_corr) then
      ctx:count("reorder")
      return nil
    end
    return d(...)
  end
end

---- netem(words): a policy doing what a tc-netem argument line says, e.g.
-- "delay 100ms 10ms 25% distribution normal loss state 1% 30% rate 1mbit
-- 20 slot 10ms packets 4" (the words of tl_impair_parse, read by the
-- core, so it needs libtcplua). In netem's order: loss, duplicate,
-- corrupt, delay (reorder: the picked segments skip it), rate (netem's
-- serialisation: no burst, one bucket per direction), slot (per
-- direction). `limit` has no meaning here and is ignored.
function N.netem(ctx, words)
  local okc, cimpair = pcall(require, "tcplua.c.impair")
  if not okc then error("fault.netem: needs the tcplua core: " .. tostring(cimpair), 2) end
  local c, err = cimpair.parse(words)
  if not c then error("fault.netem: " .. err, 2) end
  local P, list = policies, {}
  local function add(p) list[#list + 1] = p end
  if c.loss_model == cimpair.LOSS_STATE then
    add(N.loss_state(ctx, unpack(c.loss_p, 1, 5)))
  elseif c.loss_model == cimpair.LOSS_GEMODEL then
    add(P.burst_loss(ctx, unpack(c.loss_p, 1, 4)))
  elseif c.loss > 0 then
    add(P.loss(ctx, c.loss, c.loss_corr))
  end
  if c.duplicate > 0 then add(P.duplicate(ctx, c.duplicate, c.duplicate_corr)) end
  if c.corrupt > 0 then add(P.corrupt(ctx, c.corrupt, c.corrupt_corr)) end
  if c.delay_ms > 0 or c.jitter_ms > 0 then add(delay_reorder(ctx, c)) end
  if c.rate_bps > 0 then
    local ro = { per = "shared", overhead = c.rate_overhead, cell = c.rate_cell, cell_overhead = c.rate_cell_overhead }
    add(selectors.dir(ctx, "in", P.rate(ctx, c.rate_bps, 0, ro)))
    add(selectors.dir(ctx, "out", P.rate(ctx, c.rate_bps, 0, ro)))
  end
  if c.slot_min_ms > 0 or c.slot_max_ms > 0 or c.slot_jitter_ms > 0 then
    add(N.slot(ctx, c.slot_min_ms, c.slot_max_ms, {
      packets = c.slot_packets > 0 and c.slot_packets or nil, bytes = c.slot_bytes > 0 and c.slot_bytes or nil,
      distribution = c.slot_dist, jitter = c.slot_jitter_ms,
    }))
  end
  return selectors.compose(ctx, unpack(list))
end

return N
