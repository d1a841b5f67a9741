/* tcplua --gateway (host_gw.c, docs/gateway.md): the two TUNs, their
 * namespaces and the loop over both. */
#ifndef TL_HOST_GW_H
#define TL_HOST_GW_H
#include "host_loop.h"
#include "host_opts.h"

/* Makes and configures both sides' TUNs (in their namespaces). 0 or -1
 * after saying why. */
int host_gw_open(struct host *h, const struct host_opts *o);
/* The forwarder's configuration from the options. */
void host_gw_config(const struct host_opts *o, tl_gw_config *c);
/* The forwarder's output (tl_gw_out_fn): one datagram to a side's TUN. */
int host_gw_out(void *ctx, int side, const uint8_t *pkt, size_t len, const tl_gw_off *off);
/* Watches both TUNs and runs until a signal, tcplua.stop() or an error. */
void host_gw_run(struct host *h);
void host_gw_close(struct host *h);
#endif
