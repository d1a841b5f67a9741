/* Umbrella header for C code: the public API plus the types it needs. */
#ifndef TCPLUA_H
#define TCPLUA_H
#include <stddef.h>
#include <stdint.h>

#include "api.h"

#define TL_VERSION "0.1.0"
#endif
