/* The binary's watchdog: a thread that (1) interrupts a Lua step that has
 * run longer than --lua-timeout of CPU without returning to the loop, and
 * (2) takes SIGINT/SIGTERM, so they end the process even while Lua is
 * stuck. docs/architecture.md ("The watchdog") says why it is built so. */
#ifndef TL_HOST_WATCHDOG_H
#define TL_HOST_WATCHDOG_H
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

typedef struct lua_State lua_State;

/* What the interrupt asks of the main thread. */
/* Registry field: a table chunk source -> true for tcplua's own library,
 * where the hook never raises (lua/tcplua/guard.lua fills it). */
#define HOST_WATCHDOG_LIB_KEY "tcplua.lib_sources"

enum { WD_NONE, WD_TIMEOUT, WD_STOP, WD_PARK };

struct host_watchdog {
  /* Set by the host before host_watchdog_start. */
  lua_State *L;
  uint32_t limit_us;    /* --lua-timeout; 0: no step limit */
  struct ev_loop *loop; /* woken through stop_async on a signal */
  ev_async *stop_async;
  /* Runs on the watchdog thread when the main thread is parked for an
   * emergency exit (Lua stuck past the grace time): prints what can be. */
  void (*emergency)(void *ctx);
  void *emergency_ctx;

  /* Main thread: odd while a Lua step runs, bumped at both ends. */
  _Atomic uint64_t seq;
  _Atomic int unlimited; /* the running step is exempt from limit_us */
  /* Watchdog thread -> main thread. */
  _Atomic uint64_t fire_seq;   /* the step the interrupt is meant for */
  _Atomic int cmd;             /* WD_TIMEOUT, WD_STOP or WD_PARK */
  _Atomic int stop_sig;        /* the first SIGINT/SIGTERM, 0 before */
  _Atomic int parked;          /* main thread waits in the signal handler */
  _Atomic int quit;            /* main thread -> watchdog: end the thread */
  volatile sig_atomic_t armed; /* the Lua hook is set (main thread only) */
  _Atomic uint64_t timeouts;   /* steps interrupted (host_lua_timeouts) */

  pthread_t main, thread;
  int running; /* the thread runs */
  int has_timer;
  timer_t timer;
};

/* Starts the thread, the CPU-time ticks (if limit_us) and the handlers;
 * -1 (errno set) on failure. Call from the main thread. */
int host_watchdog_start(struct host_watchdog *wd);
/* Ends the thread; signals arriving later stay pending until exit. */
void host_watchdog_stop(struct host_watchdog *wd);
/* Brackets every call into Lua. Cheap: two relaxed stores, and the hook is
 * cleared only if an interrupt set it. */
static inline void host_watchdog_enter(struct host_watchdog *wd) {
  if (!wd) return;
  atomic_store_explicit(&wd->seq, atomic_load_explicit(&wd->seq, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
}
void host_watchdog_leave_slow(struct host_watchdog *wd);
static inline void host_watchdog_leave(struct host_watchdog *wd) {
  if (!wd) return;
  atomic_signal_fence(memory_order_seq_cst);
  atomic_store_explicit(&wd->seq, atomic_load_explicit(&wd->seq, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (wd->armed) host_watchdog_leave_slow(wd);
}
/* The signal that stopped the run (SIGINT/SIGTERM), or 0. */
static inline int host_watchdog_stop_signal(struct host_watchdog *wd) {
  return wd ? atomic_load(&wd->stop_sig) : 0;
}
#endif
