-- The "tcplua" toxic type: a tcplua.fault policy (or a policy written in
-- Lua) acting on the TCP segments of the proxy's connections, where
-- toxiproxy's own toxics act on the byte stream. Attributes:
--   policy  a primitive of tcplua.fault ("loss", "delay", "rate",
--           "reset_after", ...), called with
--   args    its arguments (an array, e.g. [0.05] or [{"bytes": 1000}])
--   when    a predicate the policy is limited to: an object as
--           fault.when takes ({"flags": "F"}, {"payload": "GET"}), or,
--           with Lua allowed, the source of a function(seg, dir, conn, now)
--   lua     (Lua allowed only) source of a chunk returning the policy, a
--           function(seg, dir, conn, now) -> verdict; `fault` and `tcp`
--           are in its environment
--   side    "client" (default): the segments between the proxy and the
--           client; "upstream": between the proxy and the upstream
-- The toxic's stream picks the direction: downstream is what goes to the
-- client (out on the client side, in on the upstream side), upstream the
-- other way. toxicity is a coin per connection, as for every toxic.
-- Lua source is accepted only when the server was made with allow_lua
-- (examples/toxiproxy.lua --allow-lua): it runs with the binary's rights.
local fault = require "tcplua.fault"

local M = {}

local NOT_POLICIES = {
  when = true, dir = true, inbound = true, outbound = true, port = true, conn = true, toxicity = true,
  between = true, compose = true, seed = true, new = true, stats = true, reset_stats = true, rng = true,
  normalize = true, merge = true, describe = true, split = true, copy = true, flag_bits = true,
  flag_string = true, has_flag = true, wire_size = true, seq_len = true,
}

local SEGDIR = {
  client = { downstream = "out", upstream = "in" },
  upstream = { downstream = "in", upstream = "out" },
}

local function load_lua(server, src, what, prefix)
  if not server.allow_lua then
    return nil, what .. ": Lua source is not allowed (start the server with allow_lua, --allow-lua)"
  end
  local env = setmetatable({ fault = fault, tcp = server.tcp }, { __index = _G })
  local chunk, err = load(prefix .. src, "=" .. what, "t", env)
  if not chunk then return nil, what .. ": " .. err end
  local ok, v = pcall(chunk)
  if not ok then return nil, what .. ": " .. tostring(v) end
  if type(v) ~= "function" then return nil, what .. ": must give a function, got " .. type(v) end
  return v
end

-- Builds the policy from attributes a; returns it or nil, err.
local function compile(server, a, json)
  local p, err
  if a.lua ~= nil then
    if type(a.lua) ~= "string" then return nil, "attributes.lua must be a string" end
    p, err = load_lua(server, a.lua, "attributes.lua", "")
    if not p then return nil, err end
  elseif a.policy ~= nil then
    local name = a.policy
    if type(name) ~= "string" or NOT_POLICIES[name] or type(fault[name]) ~= "function" then
      return nil, "attributes.policy: not a tcplua.fault primitive: " .. tostring(name)
    end
    local args = a.args or {}
    if type(args) ~= "table" then return nil, "attributes.args must be an array" end
    local ok, v = pcall(fault[name], unpack(args, 1, #args))
    if not ok then return nil, "attributes.policy " .. name .. ": " .. tostring(v):gsub("^.-:%d+: ", "") end
    if type(v) ~= "function" then return nil, "attributes.policy " .. name .. " did not give a policy" end
    p = v
  else
    return nil, "attributes.policy (a tcplua.fault primitive) or attributes.lua is required"
  end
  local w = a.when
  if w ~= nil and w ~= json.null then
    if type(w) == "string" then
      w, err = load_lua(server, w, "attributes.when", "return ")
      if not w then return nil, err end
    elseif type(w) ~= "table" then
      return nil, "attributes.when must be an object or Lua source"
    end
    p = fault.when(w, p)
  end
  return p
end

M.type = {
  go = "tcplua", fields = { "policy", "args", "when", "lua", "side" },
  parse = function(t, a, json)
    local merged = {}
    for k, v in pairs(t.attributes) do merged[k] = v end
    for _, f in ipairs(M.type.fields) do
      if a[f] ~= nil then merged[f] = a[f] ~= json.null and a[f] or nil end
    end
    merged.side = merged.side or "client"
    if not SEGDIR[merged.side] then return nil, "attributes.side must be \"client\" or \"upstream\"" end
    local p, err = compile(t.server, merged, json)
    if not p then return nil, err end
    if merged.args then merged.args = json.array(merged.args) end
    t.attributes, t.compiled = merged, p
    return true
  end,
  -- Installs the pair's segment hook on the first tcplua toxic.
  attach = function(link, _, toxic)
    M.install(link.pair, toxic.attributes.side)
  end,
}

-- The hook of one side of a pair: every active tcplua toxic of the proxy
-- whose stream matches the segment's direction, folded as fault.compose
-- folds (a drop ends it, delays add up, a replacement is what the next sees).
local function hook(pair, side)
  local proxy = pair.proxy
  return function(seg, dir, conn, now)
    if pair.closed then return nil end
    local acc, single
    for _, sname in ipairs({ "upstream", "downstream" }) do
      if SEGDIR[side][sname] == dir then
        local link = pair.links[sname]
        for _, t in ipairs(proxy.chain[sname]) do
          local st = link.state[t]
          if t.compiled and t.attributes.side == side and st and st.active then
            local v = t.compiled(seg, dir, conn, now)
            if v ~= nil and v ~= "pass" then
              local nv = fault.normalize(v)
              if nv then
                if nv.drop then return nv end
                if acc == nil and single == nil then
                  single, acc = v, nv
                else
                  single, acc = nil, fault.merge(acc, nv)
                end
                if nv.segment ~= nil then seg = nv.segment end
              end
            end
          end
        end
      end
    end
    if single ~= nil then return single end
    return acc
  end
end

function M.install(pair, side)
  pair.hooked = pair.hooked or {}
  if pair.hooked[side] or pair.closed then return end
  pair.hooked[side] = true
  local conn = side == "client" and pair.client or pair.up
  conn:on_segment(hook(pair, side))
end

function M.changed() end

return M
