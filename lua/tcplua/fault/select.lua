-- The fault library's selectors (a policy only for some segments) and
-- compose (several policies as one). Like the policies, each takes the
-- library instance's context first (tcplua.fault binds it).
local seg_ = require "tcplua.fault.seg"
local verdict = require "tcplua.fault.verdict"
local policies = require "tcplua.fault.policies"

local type, tostring, select = type, tostring, select
local opt, has_flag, per_conn = seg_.opt, seg_.has_flag, seg_.per_conn
local normalize, merge = verdict.normalize, verdict.merge

local S = {}

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
function S.when(ctx, pred, policy)
  if type(pred) == "table" then pred = matcher(pred) end
  assert(type(pred) == "function", "fault.when: predicate must be a function or a table")
  assert(type(policy) == "function", "fault.when: policy must be a function")
  return function(seg, dir, conn, now)
    if pred(seg, dir, conn, now) then return policy(seg, dir, conn, now) end
  end
end

function S.dir(ctx, d, policy)
  assert(d == "in" or d == "out", "fault.dir: direction must be \"in\" or \"out\"")
  return S.when(ctx, function(_, dir) return dir == d end, policy)
end

function S.inbound(ctx, policy) return S.dir(ctx, "in", policy) end

function S.outbound(ctx, policy) return S.dir(ctx, "out", policy) end

-- Segments to or from a port (either side).
function S.port(ctx, port, policy)
  port = tonumber(port)
  return S.when(ctx, function(seg) return tonumber(seg.sport) == port or tonumber(seg.dport) == port end, policy)
end

-- One connection: a conn object (compared by identity), or a table
-- matched against the segment in either direction, e.g.
-- { src = "10.77.0.1", sport = 40000 }.
function S.conn(ctx, c, policy)
  if type(c) == "table" and (c.sport or c.dport or c.src or c.dst) then
    local fwd = matcher(c)
    local rev = matcher({ src = c.dst, dst = c.src, sport = c.dport, dport = c.sport })
    return S.when(ctx, function(seg, dir) return fwd(seg, dir) or rev(seg, dir) end, policy)
  end
  return S.when(ctx, function(_, _, conn) return conn == c end, policy)
end

-- A coin flipped once per connection (toxiproxy's `toxicity`): with
-- probability p the whole connection gets the policy, else none of it.
function S.toxicity(ctx, p, policy)
  p = policies.check_p(p, "toxicity")
  local rng = ctx:stream()
  local state = per_conn()
  return S.when(ctx, function(seg, _, conn)
    local c = state(seg, conn)
    if c.on == nil then c.on = rng:unit() < p end
    return c.on
  end, policy)
end

-- Only between t0 and t1 ms (t1 nil: from t0 on).
function S.between(ctx, t0, t1, policy)
  return S.when(ctx, function(_, _, _, now)
    now = now or 0
    return now >= t0 and (t1 == nil or now < t1)
  end, policy)
end

---- compose(p1, p2, ...): run policies in order. A drop ends the chain;
-- delays add up, duplicates add up, corruption sticks, a replacement
-- segment is what later policies see.
function S.compose(ctx, ...)
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

return S
