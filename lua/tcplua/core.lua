-- Loads the C core for Lua: the FFI declarations generated from core/include/api*.h
-- and the library itself. Inside the tcplua binary the core's symbols are
-- exported (-rdynamic), so ffi.C has them; under plain LuaJIT (busted specs)
-- we load the file named by $TCPLUA_LIB, or build/libtcplua.so.
local bit = require "bit"
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

-- IPv6 text <-> the 16 bytes of the address (a Lua string), in plain Lua:
-- hex groups, one "::", an IPv4 tail ("::ffff:10.77.0.1"). nil, error
-- for anything else.
function M.ip6(s)
  if type(s) ~= "string" or not s:find(":") or #s > 45 then return nil, "bad address: " .. tostring(s) end
  local bad = "bad address: " .. s
  local text, tail = s, ""
  local v4 = s:match(":(%d+%.%d+%.%d+%.%d+)$")
  if v4 then
    local n = M.ip(v4)
    if not n then return nil, bad end
    tail = string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
    text = s:sub(1, #s - #v4) .. "0:0" -- two placeholder groups, replaced below
  end
  local function groups(x)
    local t = {}
    if x == "" then return t end
    for g in (x .. ":"):gmatch("([^:]*):") do
      if not g:match("^%x%x?%x?%x?$") then return nil end
      t[#t + 1] = tonumber(g, 16)
    end
    return t
  end
  local head, rest = text:match("^(.-)::(.*)$")
  local h, t
  if head then
    if rest:find("::", 1, true) then return nil, bad end
    h, t = groups(head), groups(rest)
  else
    h, t = groups(text), {}
  end
  if not h or not t then return nil, bad end
  local n = #h + #t
  if (head and n > 7) or (not head and n ~= 8) then return nil, bad end
  local out = {}
  for _, g in ipairs(h) do out[#out + 1] = string.char(math.floor(g / 256), g % 256) end
  for _ = 1, 8 - n do out[#out + 1] = "\0\0" end
  for _, g in ipairs(t) do out[#out + 1] = string.char(math.floor(g / 256), g % 256) end
  local a = table.concat(out)
  if tail ~= "" then a = a:sub(1, 12) .. tail end
  return a
end

-- 16 bytes -> text, RFC 5952: lowercase, no leading zeros, the longest run
-- of two or more zero groups (the first of equals) as "::".
function M.ip6str(a)
  local g = {}
  for i = 1, 16, 2 do g[#g + 1] = a:byte(i) * 256 + a:byte(i + 1) end
  local best, blen, i = 0, 1, 1
  while i <= 8 do
    if g[i] == 0 then
      local j = i
      while j < 8 and g[j + 1] == 0 do j = j + 1 end
      if j - i + 1 > blen then best, blen = i, j - i + 1 end
      i = j + 1
    else
      i = i + 1
    end
  end
  local function hex(from, to)
    local t = {}
    for k = from, to do t[#t + 1] = ("%x"):format(g[k]) end
    return table.concat(t, ":")
  end
  if best == 0 then return hex(1, 8) end
  return hex(1, best - 1) .. "::" .. hex(best + blen, 8)
end

-- A 128-bit address from two 64-bit halves (tl_config's addr6_hi/lo).
function M.ip6_of(hi, lo)
  local t = {}
  for _, v in ipairs({ hi, lo }) do
    for k = 7, 0, -1 do t[#t + 1] = string.char(tonumber(bit.band(bit.rshift(v, 8 * k), 0xff))) end
  end
  return table.concat(t)
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
