/* The passive flow table (flow.c): the public half is in api_fwd.h. */
#ifndef TL_FLOW_H
#define TL_FLOW_H
#include "tcplua.h"

/* The gateway sent RSTs for f: it is over. */
void tl_flow_mark_reset(tl_flow *f);
int tl_flow_table_count(const tl_flow_table *ft);
const tl_flow *tl_flow_table_at(const tl_flow_table *ft, int k);
#endif
