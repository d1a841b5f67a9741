/* The watchdog thread. It owns SIGINT/SIGTERM (sigwaitinfo) and, with
 * --lua-timeout, ticks of a CPU-time timer on the main thread. A tick that
 * finds the same Lua step still running limit_us after it was first seen
 * sends the main thread SIG_INTR; the handler there sets a count hook
 * (lua_sethook is safe from a signal handler in LuaJIT), and the hook
 * raises a Lua error at the next instruction of the user's code. The
 * user's code is kept out of the JIT (lua/tcplua/guard.lua), because hooks
 * never run inside a compiled trace. A signal that stops the run wakes the
 * loop (ev_async); if Lua has not returned GRACE_MS later (a compiled loop,
 * a stuck C call), the main thread is parked in the signal handler, the
 * counters are printed from here and the process exits. */
#include "host_watchdog.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define SIG_TICK (SIGRTMIN + 2) /* CPU-time ticks -> watchdog thread */
#define SIG_INTR (SIGRTMIN + 3) /* watchdog thread -> main thread */
/* A step is interrupted once it has been seen running for TICKS ticks of
 * limit_us / TICKS: after between limit_us and 1.25 * limit_us of CPU. */
#define TICKS 4
/* After SIGINT/SIGTERM: a step still running this long is interrupted... */
#define STOP_INTERRUPT_MS 100
/* ...and if the run has not ended this long after the signal, exit anyway. */
#define GRACE_MS 450
/* A spinning main thread on a loaded machine may wait for a CPU. */
#define PARK_WAIT_MS 300

static const char WD_KEY[] = "tcplua.watchdog";

/* Output from the watchdog thread goes straight to the fd: the main
 * thread may be parked holding a stdio lock. */
static void say(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
  if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) return;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_library(lua_State *L, const char *source) {
  lua_getfield(L, LUA_REGISTRYINDEX, HOST_WATCHDOG_LIB_KEY);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_getfield(L, -1, source);
  int lib = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return lib;
}

/* The count hook an interrupt sets. It raises only in the user's code:
 * tcplua's library is left to finish what it is doing (an error half-way
 * through the runtime's own bookkeeping would corrupt it), and its next
 * call into the user's code is where the error lands. */
static void wd_hook(lua_State *L, lua_Debug *ar) {
  lua_getfield(L, LUA_REGISTRYINDEX, WD_KEY);
  struct host_watchdog *wd = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!wd || !lua_getinfo(L, "Sl", ar) || ar->currentline <= 0) return;
  if (is_library(L, ar->source)) return;
  int why = atomic_load(&wd->armed);
  lua_sethook(L, NULL, 0, 0);
  atomic_store(&wd->armed, 0);
  if (why == WD_STOP) {
    int sig = atomic_load(&wd->stop_sig);
    lua_pushfstring(L, "%s:%d: interrupted: tcplua is stopping (%s) and this Lua step did not return",
                    ar->short_src, ar->currentline, sig == SIGINT ? "SIGINT" : "SIGTERM");
  } else {
    atomic_fetch_add(&wd->timeouts, 1);
    uint32_t us = wd->limit_us;
    lua_pushfstring(L, "%s:%d: Lua ran for more than %d %s of CPU without yielding (--lua-timeout)",
                    ar->short_src, ar->currentline, (int)(us % 1000 ? us : us / 1000),
                    us % 1000 ? "us" : "ms");
  }
  lua_error(L);
}

/* SIG_INTR on the main thread: only our own (pthread_sigqueue carries the
 * watchdog in si_value, so no global is needed to find it). */
static void on_interrupt(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  if (si->si_code != SI_QUEUE || si->si_pid != getpid() || !si->si_value.sival_ptr) return;
  struct host_watchdog *wd = si->si_value.sival_ptr;
  int saved = errno;
  int cmd = atomic_load(&wd->cmd);
  if (cmd == WD_PARK) {
    /* Stop touching anything while the watchdog thread reads the
     * counters and exits the process. */
    atomic_store(&wd->parked, 1);
    for (;;)
      pause();
  }
  /* The step the watchdog meant may have returned meanwhile: an even seq
   * (no step) or a newer one is left alone. */
  uint64_t seq = atomic_load_explicit(&wd->seq, memory_order_relaxed);
  if ((seq & 1) && seq == atomic_load(&wd->fire_seq) && !atomic_load(&wd->armed)) {
    atomic_store(&wd->armed, cmd);
    lua_sethook(wd->L, wd_hook, LUA_MASKCOUNT, 1);
  }
  errno = saved;
}

/* SIGINT/SIGTERM reaching the main thread (it is the thread a signal sent
 * to the process prefers): keep them blocked there from now on, and send
 * the signal again, to the process: the watchdog thread, waiting for it,
 * is then the only taker. They stay unblocked in the main thread until
 * then so that processes the script starts (io.popen) inherit an
 * ordinary signal mask. */
static void on_stop_signal(int sig, siginfo_t *si, void *ucv) {
  (void)si;
  ucontext_t *uc = ucv;
  int saved = errno;
  sigaddset(&uc->uc_sigmask, SIGINT);
  sigaddset(&uc->uc_sigmask, SIGTERM);
  kill(getpid(), sig);
  errno = saved;
}

static void fire(struct host_watchdog *wd, uint64_t seq, int cmd) {
  atomic_store(&wd->fire_seq, seq);
  atomic_store(&wd->cmd, cmd);
  pthread_sigqueue(wd->main, SIG_INTR, (union sigval){.sival_ptr = wd});
}

/* Lua did not return after a stop signal: park the main thread, print the
 * counters if it did park, and exit 0. Closing the TUN fd at exit removes
 * the device the binary created. */
static void emergency_exit(struct host_watchdog *wd, const sigset_t *set) {
  say("tcplua: Lua did not return within %d ms of the signal (a compiled loop or a stuck C call?); exiting "
      "without the script's shutdown\n",
      GRACE_MS);
  fire(wd, 0, WD_PARK);
  int64_t until = mono_ms() + PARK_WAIT_MS;
  while (!atomic_load(&wd->parked) && mono_ms() < until) {
    struct timespec ts = {0, 5 * 1000000};
    siginfo_t si;
    int sig = sigtimedwait(set, &si, &ts);
    if (sig == SIGINT || sig == SIGTERM) _exit(0);
  }
  if (atomic_load(&wd->parked)) {
    if (wd->emergency) wd->emergency(wd->emergency_ctx);
  } else {
    say("tcplua: the main thread did not pause; counters not printed\n");
  }
  _exit(0);
}

/* seen/same: the step the last tick found and for how many ticks since;
 * warned: the step already said to be out of reach. */
static void tick(struct host_watchdog *wd, uint64_t *seen, int *same, uint64_t *warned) {
  uint64_t seq = atomic_load_explicit(&wd->seq, memory_order_relaxed);
  if (!(seq & 1) || seq != *seen || atomic_load_explicit(&wd->unlimited, memory_order_relaxed)) {
    *seen = seq;
    *same = 0;
    return;
  }
  if (++*same < TICKS) return;
  *same = 0;
  /* Still armed from the last interrupt of this step: the hook never ran,
   * so Lua is in a compiled trace or a C function. Say so, once. */
  if (atomic_load(&wd->armed) && atomic_load(&wd->fire_seq) == seq) {
    if (*warned == seq) return;
    *warned = seq;
    say("tcplua: a Lua step is still running past --lua-timeout where the watchdog cannot interrupt it "
        "(a compiled trace or a C call); SIGTERM ends the process\n");
    return;
  }
  fire(wd, seq, WD_TIMEOUT);
}

static void *wd_thread(void *arg) {
  struct host_watchdog *wd = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIG_TICK);
  uint64_t seen = 0, warned = 0;
  int same = 0, phase = 0; /* 0: running; 1: signalled; 2: step interrupted */
  int64_t stop_at = 0;
  for (;;) {
    siginfo_t si;
    int sig;
    if (phase) {
      int64_t due = stop_at + (phase == 1 ? STOP_INTERRUPT_MS : GRACE_MS), now = mono_ms();
      if (now >= due) {
        if (phase == 2) emergency_exit(wd, &set);
        uint64_t seq = atomic_load_explicit(&wd->seq, memory_order_relaxed);
        if (seq & 1) fire(wd, seq, WD_STOP);
        phase = 2;
        continue;
      }
      struct timespec ts = {(due - now) / 1000, ((due - now) % 1000) * 1000000};
      sig = sigtimedwait(&set, &si, &ts);
    } else {
      sig = sigwaitinfo(&set, &si);
    }
    if (atomic_load(&wd->quit)) return NULL;
    if (sig < 0) continue; /* timeout or EINTR */
    if (sig == SIG_TICK) {
      tick(wd, &seen, &same, &warned);
      continue;
    }
    if (phase) {
      say("tcplua: second signal, exiting at once\n");
      _exit(0);
    }
    atomic_store(&wd->stop_sig, sig);
    ev_async_send(wd->loop, wd->stop_async);
    /* A step running now is usually one that does not return: say why the
     * exit may wait, and that a second signal cuts it short. */
    if (atomic_load_explicit(&wd->seq, memory_order_relaxed) & 1)
      say("tcplua: stopping on %s once the running Lua step returns (a second signal exits at once)\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM");
    phase = 1;
    stop_at = mono_ms();
  }
}

int host_watchdog_start(struct host_watchdog *wd) {
  wd->main = pthread_self();
  if (wd->L) {
    lua_pushlightuserdata(wd->L, wd);
    lua_setfield(wd->L, LUA_REGISTRYINDEX, WD_KEY);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_interrupt;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIG_INTR, &sa, NULL) < 0) return -1;

  /* The thread starts with every signal blocked and waits for its own;
   * SIG_TICK is blocked here too, so only the thread takes it. */
  sigset_t all, old, tickset;
  sigfillset(&all);
  sigemptyset(&tickset);
  sigaddset(&tickset, SIG_TICK);
  pthread_sigmask(SIG_BLOCK, &tickset, NULL);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(&wd->thread, NULL, wd_thread, wd);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    errno = r;
    return -1;
  }
  wd->running = 1;

  sa.sa_sigaction = on_stop_signal;
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return -1;

  if (wd->limit_us) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIG_TICK;
    /* This thread's CPU time: an idle stack gets no ticks at all. */
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &wd->timer) < 0) return -1;
    wd->has_timer = 1;
    uint64_t ns = (uint64_t)wd->limit_us * 1000 / TICKS;
    if (ns < 10000) ns = 10000;
    struct itimerspec its = {{(time_t)(ns / 1000000000), (long)(ns % 1000000000)},
                             {(time_t)(ns / 1000000000), (long)(ns % 1000000000)}};
    if (timer_settime(wd->timer, 0, &its, NULL) < 0) return -1;
  }
  return 0;
}

void host_watchdog_leave_slow(struct host_watchdog *wd) {
  lua_sethook(wd->L, NULL, 0, 0);
  atomic_store(&wd->armed, 0);
}

void host_watchdog_stop(struct host_watchdog *wd) {
  if (wd->has_timer) timer_delete(wd->timer);
  wd->has_timer = 0;
  if (!wd->running) return;
  /* Signals from now on stay pending: the run is ending anyway. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  atomic_store(&wd->quit, 1);
  pthread_kill(wd->thread, SIG_TICK);
  pthread_join(wd->thread, NULL);
  wd->running = 0;
}
