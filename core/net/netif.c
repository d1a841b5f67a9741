/* The network interface (netif.h): where datagrams leave the stack. */
#include "netif.h"

int tl_netif_can_scatter(const tl_stack *st) { return st->outv && !st->tap; }

int tl_netif_emit(tl_stack *st, const uint8_t *pkt, size_t len) {
  TL_COUNT(st, ip_out);
  if (st->tap) return st->tap(st, pkt, len);
  /* Only st->tx has the headroom the scatter output may write into. */
  if (st->outv && pkt == st->tx) {
    tl_iov iov = {pkt, len};
    return st->outv(st->outv_ctx, &iov, 1, len);
  }
  return st->out ? st->out(st->out_ctx, pkt, len) : 0;
}

int tl_netif_emit_vec(tl_stack *st, size_t hdr_len, const tl_iov *iov, int n) {
  TL_COUNT(st, ip_out);
  tl_iov all[1 + TL_OUT_IOV_MAX] = {{st->tx, hdr_len}};
  size_t len = hdr_len;
  int k = 1;
  for (int i = 0; i < n && k <= TL_OUT_IOV_MAX; i++) {
    if (!iov[i].len) continue;
    all[k++] = iov[i];
    len += iov[i].len;
  }
  return st->outv(st->outv_ctx, all, k, len);
}
