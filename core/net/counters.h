/* Named counters. Each module lists its own in a counters_*.def file as
 * X(name, "what it counts"); drop reasons start with "drop_". */
#ifndef TL_COUNTERS_H
#define TL_COUNTERS_H

enum tl_counter {
#define X(name, desc) TLC_##name,
#include "counters_ip.def"
#include "counters_icmp.def"
#include "counters_ip6.def"
#include "counters_tcp.def"
#include "counters_udp.def"
#include "counters_hook.def"
#include "counters_fwd.def"
#undef X
  TLC__COUNT
};

#define TL_COUNT(st, name) ((st)->counters[TLC_##name]++)
#define TL_COUNT_N(st, name, n) ((st)->counters[TLC_##name] += (n))
#endif
