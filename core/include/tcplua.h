/* Umbrella header for C code: the public API plus the types it needs. */
#ifndef TCPLUA_H
#define TCPLUA_H
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "api_ipv4.h"
#include "api_tcpwire.h"
#include "api_pcap.h"
#include "api_hook.h"

#define TL_VERSION "0.1.0"
#endif
