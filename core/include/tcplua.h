/* Umbrella header for C code: the public API plus the types it needs.
 *
 * The FFI declarations (build/lua/tcplua/cdef.lua) are generated from the
 * headers themselves: the Makefile runs `cc -E -P -DTL_FFI` over a list of
 * them (FFI_HDRS: the api*.h here plus the codec, ring, range set, ISN and
 * sequence headers whose structs and functions specs use), so a struct is
 * declared once, beside its code. Under TL_FFI a header shows only what
 * LuaJIT's ffi.cdef parses: no system headers, and an inline helper as a
 * bare prototype (TL_INLINE ... TL_BODY({...})); its .c file emits the
 * external definition the FFI calls (extern inline, C11 6.7.4). Macros
 * are expanded away: what Lua reads by name must be an enum. */
#ifndef TCPLUA_H
#define TCPLUA_H
#ifdef TL_FFI
#define TL_INLINE
#define TL_BODY(...) ;
#else
#include <stddef.h>
#include <stdint.h>
#define TL_INLINE inline
#define TL_BODY(...) __VA_ARGS__
#endif

#include "api.h"
#include "api_ipv4.h"
#include "api_ipv6.h"
#include "api_pcap.h"
#include "api_hook.h"
#include "api_udp.h"
#include "api_fwd.h"

#define TL_VERSION "0.1.0"
#endif
