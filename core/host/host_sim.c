/* tcplua --sim: the binary as a LuaJIT with the tcplua library on its path.
 * A tcplua.sim script needs no TUN and no root, only the core (which the
 * binary exports to ffi.C) and package.path, which host_lua_open sets the
 * same way as for a stack script. */
#include "host_sim.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

#include "host_lua.h"

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

int host_sim_main(int argc, char **argv) {
  if (argc < 1) {
    fprintf(stderr, "tcplua: --sim needs a script (usage: tcplua --sim SCRIPT [ARGS...]); try --help\n");
    return 2;
  }
  struct host_lua hl;
  if (host_lua_open(&hl, 0) < 0) return 1; /* no watchdog in --sim: the JIT stays on */
  int status = 1;
  if (host_lua_load(&hl, argv[0]) == 0) {
    lua_State *L = hl.L;
    /* arg as the standalone interpreter sets it: arg[0] the script. */
    lua_createtable(L, argc - 1, 1);
    for (int i = 0; i < argc; i++) {
      lua_pushstring(L, argv[i]);
      lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, LUA_REGISTRYINDEX, hl.script_ref);
    for (int i = 1; i < argc; i++)
      lua_pushstring(L, argv[i]);
    if (lua_pcall(L, argc - 1, 0, -(argc + 1)) == 0) {
      status = 0;
    } else {
      fprintf(stderr, "tcplua: %s\n", lua_tostring(L, -1));
    }
  }
  host_lua_close(&hl);
  return status;
}
