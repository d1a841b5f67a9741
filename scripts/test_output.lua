-- busted output handler for scripts/test: people get busted's utfTerminal
-- output (progress dots, summary, every failure with its message), and the
-- file named by the first -Xoutput argument gets busted's own counts, as a
-- Lua table, for scripts/test_verdict.lua to judge. The verdict never reads
-- the terminal text, where a spec may print anything, a busted summary
-- line included.
--
--   busted -o scripts/test_output.lua -Xoutput /tmp/summary [-Xoutput --plain]
--
-- The file is written at the end of every run (--repeat adds up), so a
-- busted that crashes or exits early leaves it empty.
local function src(trace)
  if type(trace) ~= "table" then return "?", 0 end
  local file = trace.source or trace.short_src or "?"
  if file:sub(1, 1) == "@" then file = file:sub(2) end
  return file, tonumber(trace.currentline) or 0
end

-- One pending/failure/error of busted's base handler, as plain data.
local function item(e)
  local file, line = src(e.element and e.element.trace or e.trace)
  local msg = e.message
  if msg ~= nil and type(msg) ~= "string" then msg = tostring(msg) end
  return { file = file, line = line, name = e.name or "?", message = msg or "" }
end

local function serialize(v)
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do
      local key = type(k) == "number" and ("[" .. k .. "]") or ("[" .. string.format("%q", k) .. "]")
      out[#out + 1] = key .. "=" .. serialize(x)
    end
    table.sort(out)
    return "{" .. table.concat(out, ",\n") .. "}"
  elseif type(v) == "string" then
    return string.format("%q", v)
  end
  return tostring(v)
end

return function(options)
  local busted = require "busted"
  local args = options.arguments or {}
  local path = args[1]
  if not path or path:sub(1, 1) == "-" then
    error("scripts/test_output.lua: the summary file must be the first -Xoutput argument")
  end
  -- The rest are utfTerminal's own flags (--color, --plain).
  local rest = {}
  for i = 2, #args do rest[#rest + 1] = args[i] end
  local human = setmetatable({ arguments = rest }, { __index = options })
  local handler = require("busted.outputHandlers.utfTerminal")(human)

  local total = { runs = 0, successes = 0, failures = 0, errors = 0, pendings = {}, failed = {} }
  busted.subscribe({ "suite", "end" }, function()
    total.runs = total.runs + 1
    total.successes = total.successes + handler.successesCount
    total.failures = total.failures + handler.failuresCount
    total.errors = total.errors + handler.errorsCount
    for _, p in ipairs(handler.pendings) do total.pendings[#total.pendings + 1] = item(p) end
    for _, f in ipairs(handler.failures) do
      local it = item(f)
      it.kind = "failure"
      total.failed[#total.failed + 1] = it
    end
    for _, f in ipairs(handler.errors) do
      local it = item(f)
      it.kind = "error"
      total.failed[#total.failed + 1] = it
    end
    local f = assert(io.open(path, "w"))
    f:write("return ", serialize(total), "\n")
    f:close()
    return nil, true
  end)
  return handler
end
