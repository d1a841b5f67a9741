-- toxiproxy's HTTP API (version 2): routes, JSON bodies, status codes and
-- error bodies as toxiproxy's api.go gives them, over the proxies of one
-- server (tcplua.toxiproxy).
local json = require "tcplua.toxiproxy.json"
local toxics = require "tcplua.toxiproxy.toxics"

local M = {}

local JSON = "application/json"
local PROXY_KEYS = { "name", "listen", "upstream", "enabled", "toxics" }
local TOXIC_KEYS = { "attributes", "name", "type", "stream", "toxicity" }

-- An error answer: {"error": msg, "status": code} and a newline (Go's
-- http.Error).
local function fail(status, msg)
  return status, json.encode(json.object({ error = msg, status = status }, { "error", "status" })) .. "\n", JSON
end
M.fail = fail

local function ok(status, value) return status, json.encode(value), JSON end

function M.toxic_json(t)
  local attrs = {}
  local keys = {}
  for k, v in pairs(t.attributes) do attrs[k] = v end
  for i, f in ipairs(t.impl.fields) do keys[i] = f end
  if t.impl.to_json then t.impl.to_json(t, attrs) end
  return json.object({ attributes = json.object(attrs, keys), name = t.name, type = t.type, stream = t.stream,
    toxicity = t.toxicity }, TOXIC_KEYS)
end

local function toxics_json(p)
  local arr = json.array()
  for _, t in ipairs(p:toxic_list()) do arr[#arr + 1] = M.toxic_json(t) end
  return arr
end

function M.proxy_json(p)
  return json.object({ name = p.name, listen = p.listen, upstream = p.upstream, enabled = p.enabled,
    toxics = toxics_json(p) }, PROXY_KEYS)
end

-- Go's decoding errors for a field of the wrong JSON type.
local function type_error(v, struct, field, gotype)
  return ("json: cannot unmarshal %s into Go struct field %s.%s of type %s"):format(json.kind(v), struct, field,
    gotype)
end

-- Checks a string field of a decoded object; returns the value (or dflt).
local function str_field(obj, k, dflt, struct)
  local v = obj[k]
  if v == nil or v == json.null then return dflt end
  if type(v) ~= "string" then return nil, type_error(v, struct, k, "string") end
  return v
end

local function bool_field(obj, k, dflt, struct)
  local v = obj[k]
  if v == nil or v == json.null then return dflt end
  if type(v) ~= "boolean" then return nil, type_error(v, struct, k, "bool") end
  return v
end

-- Reads a proxy body (object) over defaults d; returns the input or nil, err.
local function proxy_input(obj, d)
  if type(obj) ~= "table" or (#obj > 0) then
    return nil, "json: cannot unmarshal " .. json.kind(obj) .. " into Go value of type toxiproxy.Proxy"
  end
  local input, err = {}, nil
  for _, k in ipairs({ "name", "listen", "upstream" }) do
    input[k], err = str_field(obj, k, d[k], "Proxy")
    if err then return nil, err end
  end
  input.enabled, err = bool_field(obj, "enabled", d.enabled, "Proxy")
  if err then return nil, err end
  return input
end

-- Applies the attributes object a to toxic t's attribute table (over what
-- it has). Returns true or nil, err.
local function apply_attributes(t, a)
  if a == json.null then a = nil end
  if a ~= nil and type(a) ~= "table" then
    return nil, type_error(a, "ToxicWrapper", "attributes", "toxics.Toxic")
  end
  if t.impl.parse then return t.impl.parse(t, a or {}, json) end
  if a == nil then return true end
  local new = {}
  for _, f in ipairs(t.impl.fields) do
    local v = a[f]
    if v ~= nil and v ~= json.null then
      if type(v) ~= "number" or v ~= math.floor(v) or v ~= v then
        return nil, type_error(v, t.impl.go, "attributes." .. f, "int64")
      end
      new[f] = v
    end
  end
  for k, v in pairs(new) do t.attributes[k] = v end
  return true
end

-- POST /proxies/{name}/toxics: a new toxic (not yet added), or the error.
function M.new_toxic(proxy, body, server)
  local obj, err = json.decode(body)
  if obj == nil then return nil, 400, "bad request body: " .. err end
  if type(obj) ~= "table" then return nil, 400, "bad request body: " .. type_error(obj, "", "", "") end
  local t = { gen = 0, server = server }
  for _, k in ipairs({ "name", "type", "stream" }) do
    t[k], err = str_field(obj, k, k == "stream" and "downstream" or "", "ToxicWrapper")
    if err then return nil, 400, "bad request body: " .. err end
  end
  local tox = obj.toxicity
  if tox == nil or tox == json.null then tox = 1 end
  if type(tox) ~= "number" then
    return nil, 400, "bad request body: " .. type_error(tox, "ToxicWrapper", "toxicity", "float32")
  end
  t.toxicity = tox
  local dir = t.stream:lower()
  if dir ~= "upstream" and dir ~= "downstream" then
    return nil, 400, "stream was invalid, can be either upstream or downstream"
  end
  t.direction = dir
  if t.name == "" then t.name = t.type .. "_" .. t.stream end
  t.impl = toxics.types[t.type]
  if not t.impl then return nil, 400, "invalid toxic type" end
  if proxy:find_toxic(t.name) then return nil, 409, "toxic already exists" end
  t.attributes = {}
  if not t.impl.parse then
    for _, f in ipairs(t.impl.fields) do t.attributes[f] = 0 end
  end
  local ok2, aerr = apply_attributes(t, obj.attributes)
  if not ok2 then return nil, 400, "bad request body: " .. aerr end
  return t
end

-- POST/PATCH /proxies/{name}/toxics/{toxic}: attributes (merged over the
-- current ones) and toxicity. Returns true or status, err.
function M.update_toxic(t, body)
  local obj, err = json.decode(body)
  if obj == nil then return nil, 400, "bad request body: " .. err end
  if type(obj) ~= "table" then return nil, 400, "bad request body: " .. type_error(obj, "", "", "") end
  local tox = obj.toxicity
  if tox ~= nil and tox ~= json.null and type(tox) ~= "number" then
    return nil, 400, "bad request body: " .. type_error(tox, "", "toxicity", "float32")
  end
  -- Validate on a copy, so a bad body changes nothing.
  local copy = { impl = t.impl, attributes = {}, type = t.type, server = t.server }
  for k, v in pairs(t.attributes) do copy.attributes[k] = v end
  local ok2, aerr = apply_attributes(copy, obj.attributes)
  if not ok2 then return nil, 400, "bad request body: " .. aerr end
  t.attributes = copy.attributes
  if copy.compiled ~= nil then t.compiled = copy.compiled end
  if type(tox) == "number" then t.toxicity = tox end
  return true
end

M.proxy_input = proxy_input
M.ok = ok
M.JSON = JSON
return M
