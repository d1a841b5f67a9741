/* The binary's LuaJIT state: package.path, the user's script, and the
 * HOST<->LUA contract calls into the tcplua.host module (attach, step,
 * shutdown). */
#ifndef TL_HOST_LUA_H
#define TL_HOST_LUA_H
#include <stdint.h>

#include "host_watchdog.h"
#include "tcplua.h"

typedef struct lua_State lua_State;

struct host_lua {
  lua_State *L;
  int script_ref;   /* the compiled script, until it runs */
  int step_ref;     /* tcplua.host.step */
  int shutdown_ref; /* tcplua.host.shutdown, if the module has one */
  /* Every call into Lua is a step the watchdog may interrupt (NULL: none). */
  struct host_watchdog *wd;
  int guard; /* the user's code is kept out of the JIT (lua/tcplua/guard.lua) */
};

/* What main hands to require("tcplua.host").attach(info). */
struct host_lua_info {
  tl_stack *stack;
  const char *dev;
  uint32_t addr, host; /* host order */
  uint8_t prefix;
  uint16_t mtu;
  uint64_t seed;
  int quiet;
  int64_t now_us;
  const char *script;
  int nargs;
  char **args;
  int trace;        /* --trace: print every segment */
  int stats;        /* --stats: Lua's counters are printed at shutdown too */
  const char *tseq; /* --tseq FILE.csv, or NULL */
};

/* Each returns 0, or -1 after printing what went wrong to stderr. */
/* guard: keep the user's chunks out of the JIT, so the watchdog's hook can
 * reach their loops (lua/tcplua/guard.lua). */
int host_lua_open(struct host_lua *hl, int guard);
/* Compiles the script (syntax errors are reported as file:line). */
int host_lua_load(struct host_lua *hl, const char *path);
int host_lua_attach(struct host_lua *hl, const struct host_lua_info *info);
/* Runs the compiled script with its arguments as `...` and in `arg`. */
int host_lua_run(struct host_lua *hl, const struct host_lua_info *info);
/* host.step(now_us): *deadline gets Lua's next deadline (-1: none) and
 * *stop is set when the script called tcplua.stop(). An error is printed
 * with its traceback and otherwise ignored. */
void host_lua_step(struct host_lua *hl, int64_t now_us, int64_t *deadline, int *stop);
void host_lua_shutdown(struct host_lua *hl);
void host_lua_close(struct host_lua *hl);
#endif
