-- Echo on port 7 whose faults come from its arguments, as fault library
-- policies on every segment (see docs/fault-injection.md):
--   sudo tcplua --seed 1 examples/chaos.lua loss=0.05 delay=20 jitter=5 reorder=0.01
-- Keys: loss, burst (p,r: Gilbert-Elliott), delay (ms), jitter (ms),
-- dist (uniform|normal|pareto), reorder, duplicate, corrupt, rate (bit/s),
-- size (size limit, bytes), slice (bytes), port (echo port, default 7),
-- dir (in|out: one direction only).
local tcplua = require "tcplua"
local fault = require "tcplua.fault"

local o = {}
for _, a in ipairs({ ... }) do
  local k, v = a:match("^([%w_]+)=(.+)$")
  if not k then error("chaos.lua: arguments are key=value, got '" .. a .. "'", 0) end
  o[k] = v
end
local function num(k)
  if o[k] == nil then return nil end
  local n = tonumber((o[k]:gsub("%%$", "")))
  if not n then error("chaos.lua: " .. k .. " needs a number", 0) end
  if o[k]:sub(-1) == "%" then n = n / 100 end
  return n
end

local policies, names = {}, {}
local function add(name, p) policies[#policies + 1] = p; names[#names + 1] = name end
if num("loss") then add("loss " .. num("loss"), fault.loss(num("loss"))) end
if o.burst then
  local p, r = o.burst:match("^([%d.]+),([%d.]+)$")
  add("burst " .. o.burst, fault.burst_loss(tonumber(p), tonumber(r)))
end
if num("delay") or num("jitter") then
  add(("delay %s ms +- %s"):format(num("delay") or 0, num("jitter") or 0),
    fault.delay(num("delay") or 0, num("jitter") or 0, o.dist))
end
if num("reorder") then add("reorder " .. num("reorder"), fault.reorder(num("reorder"))) end
if num("duplicate") then add("duplicate " .. num("duplicate"), fault.duplicate(num("duplicate"))) end
if num("corrupt") then add("corrupt " .. num("corrupt"), fault.corrupt(num("corrupt"))) end
if num("rate") then add("rate " .. num("rate"), fault.rate(num("rate"))) end
if num("size") then add("size limit " .. num("size"), fault.size_limit(num("size"))) end
if num("slice") then add("slice " .. num("slice"), fault.slice(num("slice"))) end

local policy = fault.compose((table.unpack or unpack)(policies))
if o.dir == "in" then policy = fault.inbound(policy) elseif o.dir == "out" then policy = fault.outbound(policy) end
if #policies > 0 then tcplua.on_segment(policy) end

local port = num("port") or 7
assert(tcplua.listen(port, function(conn)
  while true do
    local data = conn:receiveany(65536)
    if not data or not conn:send(data) then break end
  end
end))

-- Every fault applied is counted: show them when asked to stop.
tcplua.every(10000, function()
  local s, t = fault.stats(), {}
  for k, v in pairs(s) do t[#t + 1] = k .. "=" .. v end
  table.sort(t)
  if #t > 0 then io.stderr:write("chaos: ", table.concat(t, " "), "\n") end
end)

local cfg = tcplua.config()
if not cfg.quiet then
  print(("chaos echo on %s:%d with %s"):format(cfg.addr, port, #names > 0 and table.concat(names, ", ") or "no faults"))
end
