/* pcapng writer; the interface is in api_pcap.h (reached through tcplua.h
 * so the FFI and C see one declaration). */
#ifndef TL_PCAP_H
#define TL_PCAP_H
#include "tcplua.h"
#endif
