-- Loads the C core for Lua: the FFI declarations generated from core/include/api*.h
-- and the library itself. Inside the tcplua binary the core's symbols are
-- exported (-rdynamic), so ffi.C has them; under plain LuaJIT (busted specs)
-- we load the file named by $TCPLUA_LIB, or build/libtcplua.so.
local ffi = require "ffi"

ffi.cdef(require "tcplua.cdef")

local function has_core(lib)
  return pcall(function() return lib.tl_version end)
end

-- ffi.load's handle unmaps the library (dlclose) from its __gc. When the
-- handle and a stack with an ffi.gc finalizer become garbage in the same
-- cycle (busted drops a spec file's modules; lua_close at exit), LuaJIT may
-- run the handle's __gc first, and the stack's finalizer then jumps into
-- unmapped code: SIGSEGV at exit, and busted's buffered summary is lost.
-- A second dlopen with RTLD_NODELETE keeps the library mapped until the
-- process ends, whatever order the finalizers run in.
local RTLD_NOW, RTLD_NODELETE = 2, 0x1000 -- <dlfcn.h>, glibc

local function pinned(path)
  local lib = ffi.load(path)
  pcall(ffi.cdef, "void *dlopen(const char *file, int mode);")
  if ffi.C.dlopen(path, RTLD_NOW + RTLD_NODELETE) == nil then
    -- A bare name ffi.load resolved its own way: at least never let the
    -- handle become garbage while the state runs.
    debug.getregistry()["tcplua.core.lib"] = lib
  end
  return lib
end

local function load()
  -- The binary's own copy first: its stack pointers are only valid there.
  if has_core(ffi.C) then return ffi.C end
  local forced = os.getenv("TCPLUA_LIB")
  if forced and forced ~= "" then return pinned(forced) end
  local tried = {}
  for _, p in ipairs({ "build/libtcplua.so", "./libtcplua.so" }) do
    local ok, lib = pcall(pinned, p)
    if ok then return lib end
    tried[#tried + 1] = p .. ": " .. tostring(lib)
  end
  error("tcplua: cannot load the core library (run `make` first, or set TCPLUA_LIB)\n  "
    .. table.concat(tried, "\n  "), 2)
end

local C = load()

local M = { C = C, ffi = ffi }

-- "a.b.c.d" <-> host-order uint32
function M.ip(s)
  if type(s) == "number" then return s end
  local a, b, c, d = tostring(s):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if not a or a > 255 or b > 255 or c > 255 or d > 255 then return nil, "bad address: " .. tostring(s) end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

function M.ipstr(n)
  n = tonumber(n)
  return string.format("%d.%d.%d.%d", math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end

-- All counters of a stack as a { name = number } table.
function M.stats(st)
  local t = {}
  for i = 0, C.tl_stats_count() - 1 do
    t[ffi.string(C.tl_stats_name(i))] = tonumber(C.tl_stats_get(st, i))
  end
  return t
end

function M.strerror(e) return ffi.string(C.tl_strerror(e)) end

return M
