-- Keeps the user's Lua code where the --lua-timeout watchdog can stop it
-- (core/host/host_watchdog.c). The watchdog interrupts a step with a count hook,
-- and LuaJIT never runs hooks inside a compiled trace: a loop such as
-- `while true do x = x + 1 end` becomes a trace that loops forever. So every
-- chunk of the user's (the script, the modules it requires, what it loads
-- with load/loadstring/loadfile/dofile) is marked jit.off(chunk, true): it
-- and every function defined in it run in the interpreter, and the JIT
-- refuses to inline them into a trace of someone else's. tcplua's own
-- modules (tcplua, tcplua.*) keep the JIT; their chunk sources are listed
-- in lib_sources, which tells the hook not to raise inside them.
-- Installed by the binary only (host_lua.c), and only when the watchdog is on.
local M = {}

local lib_sources = {}
M.lib_sources = lib_sources

local jit_off = jit and jit.off

local function source_of(f) return debug.getinfo(f, "S").source end
lib_sources[source_of(function() end)] = true

local function is_library(name) return name == "tcplua" or name:sub(1, 7) == "tcplua." end

-- Marks a user chunk: it and the functions in it stay interpreted.
function M.user(f)
  if jit_off and type(f) == "function" then jit_off(f, true) end
  return f
end

local function wrap_loader(orig)
  return function(...)
    local f, err = orig(...)
    if f then M.user(f) end
    return f, err
  end
end

function M.install()
  if M.installed then return end
  M.installed = true
  local loaders = package.loaders or package.searchers
  local lua_loader = loaders[2]
  loaders[2] = function(name)
    local f, extra = lua_loader(name)
    if type(f) == "function" then
      if is_library(name) then lib_sources[source_of(f)] = true else M.user(f) end
    end
    return f, extra
  end
  load = wrap_loader(load)
  loadstring = wrap_loader(loadstring)
  loadfile = wrap_loader(loadfile)
  local lf = loadfile
  dofile = function(path)
    local f, err = lf(path)
    if not f then error(err, 2) end
    return f()
  end
end

return M
