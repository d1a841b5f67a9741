/* LuaJIT state of the binary. */
#include "host_lua.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below nargs arguments on the stack with the traceback
 * handler; on error prints "tcplua: <traceback>" and leaves nothing. */
static int pcall_tb(lua_State *L, int nargs, int nres) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int r = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  if (r != 0) {
    fprintf(stderr, "tcplua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

/* pcall_tb as one watchdog step: an interrupt lands in this call only.
 * limited: --lua-timeout applies (a stop signal's interrupt always does). */
static int step_call(struct host_lua *hl, int nargs, int nres, int limited) {
  int exempt = hl->wd && !limited;
  if (exempt) atomic_store_explicit(&hl->wd->unlimited, 1, memory_order_relaxed);
  host_watchdog_enter(hl->wd);
  int r = pcall_tb(hl->L, nargs, nres);
  host_watchdog_leave(hl->wd);
  if (exempt) atomic_store_explicit(&hl->wd->unlimited, 0, memory_order_relaxed);
  return r;
}

/* The Lua library is found next to the executable: ./tcplua in the repo
 * (lua/, build/lua/ for the generated cdef), build/tcplua or
 * build-san/tcplua (../lua/ and lua/ for the cdef) and an installed
 * PREFIX/bin/tcplua (../share/tcplua/lua/). */
static void set_package_path(lua_State *L) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = '\0';
  const char *d = exe;
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  const char *old = lua_tostring(L, -1);
  lua_pushfstring(L,
                  "%s/lua/?.lua;%s/lua/?/init.lua;%s/build/lua/?.lua;%s/../lua/?.lua;%s/../lua/?/init.lua;"
                  "%s/../share/tcplua/lua/?.lua;%s/../share/tcplua/lua/?/init.lua;%s",
                  d, d, d, d, d, d, d, old ? old : "");
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

/* require("tcplua.guard").install(), and its list of the library's chunk
 * sources where the watchdog's hook finds it. */
static int install_guard(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "tcplua.guard");
  if (pcall_tb(L, 1, 1) < 0) return -1;
  lua_getfield(L, -1, "lib_sources");
  lua_setfield(L, LUA_REGISTRYINDEX, HOST_WATCHDOG_LIB_KEY);
  lua_getfield(L, -1, "install");
  int r = pcall_tb(L, 0, 0);
  lua_pop(L, 1);
  return r;
}

int host_lua_open(struct host_lua *hl, int guard) {
  hl->script_ref = hl->step_ref = hl->shutdown_ref = LUA_NOREF;
  hl->guard = guard;
  /* Inside the binary the core is the binary itself (ffi.C, -rdynamic):
   * a second copy loaded from $TCPLUA_LIB (set for the specs) must not be
   * handed the stack this copy allocated. */
  unsetenv("TCPLUA_LIB");
  hl->L = luaL_newstate();
  if (!hl->L) {
    fprintf(stderr, "tcplua: cannot create the Lua state (out of memory)\n");
    return -1;
  }
  luaL_openlibs(hl->L);
  set_package_path(hl->L);
  if (guard && install_guard(hl->L) < 0) return -1;
  return 0;
}

/* jit.off(chunk, true) for the function on top of the stack. */
static int jit_off(lua_State *L) {
  lua_getglobal(L, "jit");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_getfield(L, -1, "off");
  lua_remove(L, -2);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  return pcall_tb(L, 2, 0);
}

int host_lua_load(struct host_lua *hl, const char *path) {
  lua_State *L = hl->L;
  if (!path) {
    /* A gateway may run without a script: an empty one. */
    if (luaL_loadstring(L, "") != 0) return -1;
    hl->script_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
  }
  /* luaL_loadfile's own message for a missing file reads like a Lua error;
   * say plainly that the script is not there. */
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "tcplua: cannot read script %s: %s\n", path, strerror(errno));
    return -1;
  }
  int r = luaL_loadfile(L, path);
  if (r != 0) {
    /* LUA_ERRSYNTAX messages already read "file:line: reason". */
    fprintf(stderr, "tcplua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  if (hl->guard && jit_off(L) < 0) {
    lua_pop(L, 1);
    return -1;
  }
  hl->script_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static void push_addr(lua_State *L, uint32_t a) {
  lua_pushfstring(L, "%d.%d.%d.%d", (int)(a >> 24), (int)((a >> 16) & 255), (int)((a >> 8) & 255),
                  (int)(a & 255));
}

static void push_args(lua_State *L, const struct host_lua_info *in) {
  lua_createtable(L, in->nargs, 1);
  for (int i = 0; i < in->nargs; i++) {
    lua_pushstring(L, in->args[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static void push_info(lua_State *L, const struct host_lua_info *in) {
  lua_createtable(L, 0, 12);
  lua_pushlightuserdata(L, in->stack);
  lua_setfield(L, -2, "stack");
  lua_pushstring(L, in->dev);
  lua_setfield(L, -2, "dev");
  push_addr(L, in->addr);
  lua_setfield(L, -2, "addr");
  push_addr(L, in->host);
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, in->prefix);
  lua_setfield(L, -2, "prefix");
  lua_pushinteger(L, in->mtu);
  lua_setfield(L, -2, "mtu");
  lua_pushnumber(L, (lua_Number)in->seed);
  lua_setfield(L, -2, "seed");
  lua_pushboolean(L, in->quiet);
  lua_setfield(L, -2, "quiet");
  lua_pushnumber(L, (lua_Number)in->now_us);
  lua_setfield(L, -2, "now_us");
  push_args(L, in);
  lua_setfield(L, -2, "args");
  lua_pushstring(L, in->script);
  lua_setfield(L, -2, "script");
  lua_pushboolean(L, in->trace);
  lua_setfield(L, -2, "trace");
  lua_pushboolean(L, in->stats);
  lua_setfield(L, -2, "stats");
  if (in->tseq) {
    lua_pushstring(L, in->tseq);
    lua_setfield(L, -2, "tseq");
  }
}

int host_lua_attach(struct host_lua *hl, const struct host_lua_info *info) {
  lua_State *L = hl->L;
  lua_getglobal(L, "require");
  lua_pushstring(L, "tcplua.host");
  if (step_call(hl, 1, 1, 0) < 0) return -1;
  if (!lua_istable(L, -1)) {
    fprintf(stderr, "tcplua: module tcplua.host did not return a table\n");
    lua_pop(L, 1);
    return -1;
  }
  lua_getfield(L, -1, "step");
  if (!lua_isfunction(L, -1)) {
    fprintf(stderr, "tcplua: module tcplua.host has no step function\n");
    lua_pop(L, 2);
    return -1;
  }
  hl->step_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "attach");
  if (!lua_isfunction(L, -1)) {
    fprintf(stderr, "tcplua: module tcplua.host has no attach function\n");
    lua_pop(L, 2);
    return -1;
  }
  push_info(L, info);
  if (step_call(hl, 1, 0, 0) < 0) {
    lua_pop(L, 1);
    return -1;
  }
  /* shutdown is looked up after attach in case attach installs it. */
  lua_getfield(L, -1, "shutdown");
  if (lua_isfunction(L, -1))
    hl->shutdown_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else
    lua_pop(L, 1);
  lua_pop(L, 1);
  return 0;
}

int host_lua_run(struct host_lua *hl, const struct host_lua_info *info) {
  lua_State *L = hl->L;
  /* arg[0] is the script and arg[1..n] its arguments, as with lua(1). */
  push_args(L, info);
  lua_pushstring(L, info->script);
  lua_rawseti(L, -2, 0);
  lua_setglobal(L, "arg");
  lua_rawgeti(L, LUA_REGISTRYINDEX, hl->script_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, hl->script_ref);
  hl->script_ref = LUA_NOREF;
  for (int i = 0; i < info->nargs; i++)
    lua_pushstring(L, info->args[i]);
  /* The top level may take its time setting up (nothing is served yet);
   * only a stop signal interrupts it. */
  return step_call(hl, info->nargs, 0, 0);
}

void host_lua_step(struct host_lua *hl, int64_t now_us, int64_t *deadline, int *stop) {
  lua_State *L = hl->L;
  *deadline = -1;
  *stop = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, hl->step_ref);
  lua_pushnumber(L, (lua_Number)now_us);
  if (step_call(hl, 1, 2, 1) < 0) return;
  if (lua_isnumber(L, -2)) {
    lua_Number d = lua_tonumber(L, -2);
    /* Range-checked: a NaN or huge value must not reach the int64 cast. */
    if (d >= 0 && d < 9.0e18) *deadline = (int64_t)d;
  }
  *stop = lua_toboolean(L, -1);
  lua_pop(L, 2);
}

void host_lua_shutdown(struct host_lua *hl) {
  if (!hl->L || hl->shutdown_ref == LUA_NOREF) return;
  lua_rawgeti(hl->L, LUA_REGISTRYINDEX, hl->shutdown_ref);
  step_call(hl, 0, 0, 1);
}

void host_lua_close(struct host_lua *hl) {
  if (hl->L) lua_close(hl->L);
  hl->L = NULL;
}
