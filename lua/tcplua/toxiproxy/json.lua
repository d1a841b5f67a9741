-- JSON for the toxiproxy API: lua-cjson decodes; the encoder here writes
-- objects with their keys in a fixed order (toxiproxy's, for readable
-- answers) and empty arrays as [] (cjson 2.1 writes an empty table as {}).
local cjson = require "cjson"

local M = { null = cjson.null }

local ARRAY = {}
local ORDER = setmetatable({}, { __mode = "k" })

-- t marked as an array (encoded [] when empty).
function M.array(t) return setmetatable(t or {}, ARRAY) end

-- t as an object whose keys come out in the order given (others after,
-- sorted).
function M.object(t, keys)
  ORDER[t] = keys
  return t
end

local encode

local function encode_object(t, out)
  local keys, seen = {}, {}
  for _, k in ipairs(ORDER[t] or {}) do
    if t[k] ~= nil then keys[#keys + 1] = k; seen[k] = true end
  end
  local rest = {}
  for k in pairs(t) do
    if not seen[k] then rest[#rest + 1] = tostring(k) end
  end
  table.sort(rest)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = cjson.encode(k)
    out[#out + 1] = ":"
    encode(t[k], out)
  end
  out[#out + 1] = "}"
end

function encode(v, out)
  if type(v) ~= "table" then
    out[#out + 1] = cjson.encode(v)
  elseif getmetatable(v) == ARRAY then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      encode(v[i], out)
    end
    out[#out + 1] = "]"
  else
    encode_object(v, out)
  end
end

function M.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

-- text -> value, or nil and Go's wording of why ("EOF" for no body).
function M.decode(text)
  if not text or text:match("^%s*$") then return nil, "EOF" end
  local ok, v = pcall(cjson.decode, text)
  if not ok then return nil, (tostring(v):gsub("^.-:%d+: ", "")) end
  return v
end

-- The JSON type name of a decoded value, in Go's error wording.
function M.kind(v)
  if v == cjson.null then return "null" end
  local t = type(v)
  if t == "number" then return "number " .. cjson.encode(v) end
  if t == "boolean" then return "bool" end
  if t == "table" then return (next(v) == 1 or #v > 0) and "array" or "object" end
  return t
end

return M
