/* STUB: replaced by the real CLI/loop. */
#include <stdio.h>
#include "tcplua.h"
int main(void) { printf("tcplua %s\n", tl_version()); return 0; }
