/* Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey), M a 4 us clock, F SipHash-2-4
 * (libsodium crypto_shorthash) keyed with a per-stack secret.
 * struct tl_isn_key, tl_isn_key_init and tl_isn are in api_tcpwire.h. */
#ifndef TL_ISN_H
#define TL_ISN_H
#include "tcplua.h"
#endif
