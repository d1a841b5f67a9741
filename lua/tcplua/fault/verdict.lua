-- Verdicts of the fault library: the forms a policy may return, the one
-- general table form they normalise to, how two fold into one, and the
-- human note for pcap comments and --trace.
local huge = math.huge
local type, tostring = type, tostring

-- Verdicts
local function is_segment(v)
  return type(v) == "table" and v.seq ~= nil and v.sport ~= nil
end

-- Any verdict -> nil (pass) or the general table form.
local function normalize(v)
  if v == nil or v == "pass" or v == true then return nil end
  if v == "drop" or v == false then return { drop = true } end
  if v == "corrupt" then return { corrupt = true } end
  -- A gateway resets the segment's flow at both ends (docs/gateway.md).
  if v == "reset" then return { drop = true, reset = true, fault = "reset" } end
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
  out.reset = out.reset or b.reset or nil
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

return { normalize = normalize, merge = merge, describe = describe }
