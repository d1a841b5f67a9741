# The floors of the core, lowest first, and what each may include: a file
# in core/<floor>/ is compiled with -Icore/<dir> for each dir listed for
# its floor (its own folder comes first by C's rules for "..."), so a lower
# floor cannot reach a higher one: the build fails. scripts/floors checks
# the same table over every #include line (make runs it before compiling).
# docs/architecture.md draws these floors and says why each sits where.
FLOORS := wire storage net link ip tcp tcp/cc stack sim host
LIB_FLOORS := wire storage net link ip tcp tcp/cc stack sim
ALL_FLOOR_DIRS := include $(FLOORS)
FLOOR_wire := $(ALL_FLOOR_DIRS)
FLOOR_storage := $(ALL_FLOOR_DIRS)
FLOOR_net := $(ALL_FLOOR_DIRS)
FLOOR_link := $(ALL_FLOOR_DIRS)
FLOOR_ip := $(ALL_FLOOR_DIRS)
FLOOR_tcp := $(ALL_FLOOR_DIRS)
FLOOR_tcp/cc := $(ALL_FLOOR_DIRS)
FLOOR_stack := $(ALL_FLOOR_DIRS)
FLOOR_sim := $(ALL_FLOOR_DIRS)
FLOOR_host := $(ALL_FLOOR_DIRS)
