-- The Lua library's ownership rules (docs/architecture.md, "The Lua
-- side"), checked on the code itself: each C function family is called
-- from one module under lua/tcplua/c/, the user word is read and written
-- only by tcplua.ids, each module keeps its state under one field of the
-- runtime, and files and functions stay small.
local jutil = require "jit.util"
local luasim = require "helpers.luasim"

local function lua_files()
  local list = {}
  local p = assert(io.popen("find lua -name '*.lua' | sort"))
  for path in p:lines() do list[#list + 1] = path end
  p:close()
  assert(#list > 10, "run from the repository root")
  return list
end

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("*a")
  f:close()
  return s
end

-- The code of a file without its comments (strings stay: C calls are not
-- spelled inside them).
local function code_of(path)
  local out = {}
  for line in (read(path) .. "\n"):gmatch("(.-)\n") do
    out[#out + 1] = line:gsub("%-%-.*$", "")
  end
  return table.concat(out, "\n")
end

local OWNERS_DIR = "^lua/tcplua/c/"
local LOADER = "lua/tcplua/core.lua"

describe("the Lua library's owners", function()
  it("calls C only from lua/tcplua/c/ (and the loader, tcplua.core)", function()
    local bad = {}
    for _, path in ipairs(lua_files()) do
      if not path:match(OWNERS_DIR) and path ~= LOADER and path ~= "lua/tcplua/cdef.lua" then
        local code = code_of(path)
        for call in code:gmatch("[%w_]*C%.[%w_]+") do
          if call:match("^C%.") or call:match("^ffi%.C") then bad[#bad + 1] = path .. ": " .. call end
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("calls each tl_ function from one module only", function()
    local where, dup = {}, {}
    for _, path in ipairs(lua_files()) do
      if path:match(OWNERS_DIR) or path == LOADER then
        for fn in code_of(path):gmatch("C%.(tl_[%w_]+)") do
          if where[fn] and where[fn] ~= path then dup[#dup + 1] = fn .. ": " .. where[fn] .. ", " .. path end
          where[fn] = path
        end
      end
    end
    assert.are.same({}, dup)
    assert.is_not_nil(where.tl_recv, "no C family found under lua/tcplua/c/")
  end)

  it("reads and writes the user word only in tcplua.ids", function()
    local bad = {}
    for _, path in ipairs(lua_files()) do
      if path ~= "lua/tcplua/ids.lua" and not path:match(OWNERS_DIR) then
        local code = code_of(path)
        if code:match("sock%.user%(") or code:match("sock%.set_user%(") or code:match("2 %^ 40") then
          bad[#bad + 1] = path
        end
      end
    end
    assert.are.same({}, bad)
  end)

  it("keeps each module's state under one field of the runtime", function()
    local sim, a, b = luasim.pair(1)
    a.listen(7, function(conn) conn:send(conn:receive("*l") .. "\n") end)
    a.listen(8, { on_data = function(conn, data) conn:send(data) end })
    a.on_segment(function() end)
    local got = {}
    b.spawn(function()
      for _, port in ipairs({ 7, 8 }) do
        local c = assert(b.connect(a.config().addr, port))
        c:send(string.rep("x", 5000) .. "\n")
        got[#got + 1] = c:receive(5001)
        c:close()
      end
    end)
    assert.is_true(sim:run(10000))
    assert.are.equal(2, #got)
    -- The runtime's own fields (runtime.new), then one per module.
    local allowed = { st = true, now_us = true, extra_config = true, report = true, timers = true,
      ready = true, cos = true, done = true, alive = true, stopped = true, api = true,
      ids = "tcplua.ids", io = "tcplua.connbase", server = "tcplua.server", evs = "tcplua.evserver",
      hook = "tcplua.hook", lend = "tcplua.lend", simlink = "tcplua.sim", udp = "tcplua.udp" }
    for _, rt in ipairs({ a._runtime, b._runtime }) do
      for k in pairs(rt) do
        assert.is_truthy(allowed[k], "runtime field " .. tostring(k) .. " has no owner")
      end
    end
  end)

  -- Every function prototype of a chunk, nested ones too.
  local function protos(f, out)
    local fi = jutil.funcinfo(f)
    out[#out + 1] = fi
    for i = 1, fi.gcconsts or 0 do
      local k = jutil.funck(f, -i)
      if type(k) == "proto" then protos(k, out) end
    end
    return out
  end

  it("keeps files under 600 lines and functions under 100", function()
    local bad = {}
    for _, path in ipairs(lua_files()) do
      local _, n = read(path):gsub("\n", "")
      if n > 600 and path ~= "lua/tcplua/cdef.lua" then bad[#bad + 1] = path .. ": " .. n .. " lines" end
      for _, fi in ipairs(protos(assert(loadfile(path)), {})) do
        local len = fi.lastlinedefined - fi.linedefined
        if fi.linedefined > 0 and len > 100 then
          bad[#bad + 1] = ("%s:%d: a function of %d lines"):format(path, fi.linedefined, len)
        end
      end
    end
    assert.are.same({}, bad)
  end)
end)
