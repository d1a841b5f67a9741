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
-- generator as core/storage/rng.h), derived from the library seed and the order in
-- which policies are created: same seed, same script => same faults. It
-- never touches math.random. Verdict tables of constant verdicts are shared:
-- treat every verdict as read-only.
--
-- The library is split by concern: tcplua.fault.rng (the generator),
-- .seg (segment helpers), .verdict (verdict forms), .policies, .netem
-- and .select (the constructors). This module makes library instances.
local rng = require "tcplua.fault.rng"
local seg = require "tcplua.fault.seg"
local verdict = require "tcplua.fault.verdict"
local policies = require "tcplua.fault.policies"
local selectors = require "tcplua.fault.select"
local netem = require "tcplua.fault.netem"

local rng_new = rng.new

-- A library instance's context: its seed, the random streams handed out
-- so far, and the faults applied, by name.
local Ctx = {}
Ctx.__index = Ctx

-- The next policy's own generator.
function Ctx:stream()
  self.streams = self.streams + 1
  return rng_new(self.seed, self.streams)
end

-- opts.seed gives a policy a generator of its own seed.
function Ctx:rng_for(opts)
  if opts and opts.seed then return rng_new(opts.seed, 0) end
  return self:stream()
end

function Ctx:count(name)
  self.counts[name] = (self.counts[name] or 0) + 1
end

-- A drop verdict naming the fault (constant verdicts are shared).
function Ctx:drop(name)
  self:count(name)
  local v = self.drops[name]
  if not v then
    v = { drop = true, fault = name }
    self.drops[name] = v
  end
  return v
end

-- Binds every constructor of mod to ctx as a field of F. The wrapper
-- tail-calls, so the constructors' error levels still name the script.
local function bind(F, ctx, mod)
  for name, fn in pairs(mod) do
    if name ~= "check_p" and name:sub(1, 1) ~= "_" then F[name] = function(...) return fn(ctx, ...) end end
  end
end

-- A library instance: its seed, its counters and the policy constructors.
-- The module itself is one instance; fault.new(seed) makes another.
local function make(seed)
  local ctx = setmetatable({ seed = seed or 1, streams = 0, counts = {}, drops = {} }, Ctx)
  local F = {}
  bind(F, ctx, policies)
  bind(F, ctx, selectors)
  bind(F, ctx, netem)

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

  -- Utilities shared by every instance.
  F.normalize = verdict.normalize
  F.merge = verdict.merge
  F.describe = verdict.describe
  F.split = seg.split
  F.copy = seg.copy
  F.flag_bits = seg.flag_bits
  F.flag_string = seg.flag_string
  F.has_flag = seg.has_flag
  F.wire_size = seg.wire_size
  F.seq_len = seg.seq_len
  F.FLAGS = seg.FLAG_BITS
  return F
end

return make(1)
