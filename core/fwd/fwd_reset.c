/* A flow reset by the gateway: an RST to each end, in the name of the
 * other. A receiver takes an RST at once only when its sequence number is
 * exactly its rcv.nxt (RFC 5961 3.2, which Linux follows; one merely in the
 * window draws a challenge ACK), so each end gets one RST per candidate
 * for that value, from the flow table:
 *  - the last acknowledgment the end itself sent (its rcv.nxt then);
 *  - the highest sequence the other end sent (its rcv.nxt if all of it
 *    arrived);
 *  - the segment being judged, if it was going to that end (it is being
 *    dropped, so the end's rcv.nxt is its sequence number).
 * A candidate that is not exact costs at most a challenge ACK. */
#include <string.h>

#include "fwd.h"
#include "ipv4_wire.h"
#include "tcp_wire.h"

/* An RST (with ACK when ack_ok) from `from` to `to` of flow f. */
static void send_rst(tl_stack *st, const tl_flow *f, int to, uint32_t seq, uint32_t ack, int ack_ok) {
  struct tl_fwd *fw = st->fwd;
  uint8_t *p = fw->rst;
  int from = !to;
  memset(p, 0, 40);
  p[0] = 0x45;
  tl_put16(p + 2, 40);
  p[6] = 0x40; /* DF */
  p[8] = 64;
  p[9] = TL_PROTO_TCP;
  tl_put32(p + 12, f->addr[from]);
  tl_put32(p + 16, f->addr[to]);
  tl_put16(p + 10, tl_csum(p, 20));
  uint8_t *t = p + 20;
  tl_put16(t, f->port[from]);
  tl_put16(t + 2, f->port[to]);
  tl_put32(t + 4, seq);
  tl_put32(t + 8, ack_ok ? ack : 0);
  t[12] = 5 << 4;
  t[13] = TL_TH_RST | (ack_ok ? TL_TH_ACK : 0);
  tl_tcp_checksum(t, 20, f->addr[from], f->addr[to]);
  tl_fwd_emit_own(st, p, 40);
}

static int add_cand(uint32_t *c, int n, uint32_t v) {
  for (int i = 0; i < n; i++)
    if (c[i] == v) return n;
  c[n] = v;
  return n + 1;
}

int tl_gw_reset(tl_stack *st, const uint8_t *pkt, size_t len, int64_t now) {
  int dir = 0;
  const tl_flow *cf = tl_gw_flow(st, pkt, len, &dir);
  if (!cf) return TL_EINVAL;
  if (now > st->now) st->now = now;
  tl_flow *f = (tl_flow *)(uintptr_t)cf;
  uint32_t pseq = tl_get32(pkt + (size_t)(pkt[0] & 15) * 4 + 4);
  int sent = 0;
  for (int to = 0; to < 2; to++) {
    int from = !to;
    /* Before the server answered, the client's SYN is all there is: an
     * RST,ACK of it (RFC 9293 3.10.7.3: acceptable in SYN-SENT). */
    if (to == 1 && f->state == TL_FLOW_SYN_SENT) continue;
    uint32_t c[3];
    int n = 0;
    if (f->has_ack[to]) n = add_cand(c, n, f->ack[to]);
    if (f->segs[from]) n = add_cand(c, n, f->nxt[from]);
    if (dir == from) n = add_cand(c, n, pseq);
    if (!n) n = add_cand(c, n, 0); /* SYN-SENT: the ACK field is what counts */
    for (int i = 0; i < n; i++) {
      send_rst(st, f, to, c[i], f->nxt[to], 1);
      sent++;
    }
  }
  tl_flow_mark_reset(f);
  TL_COUNT(st, fwd_resets);
  return sent;
}
