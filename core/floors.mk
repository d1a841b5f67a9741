# The floors of the core, lowest first, and what each may include: a file
# in core/<floor>/ is compiled with -Icore/<dir> for each dir listed for
# its floor (its own folder comes first by C's rules for "..."), so a lower
# floor cannot reach a higher one: the build fails. scripts/floors checks
# the same table over every #include line and over the symbols each object
# takes from the others (make runs it). link and ip are side by side:
# neither sees the other. tcp/cc is part of the tcp floor (the congestion
# controls and TCP call each other). udp sits beside tcp: neither sees
# the other. fwd (the gateway) sits beside ip: it forwards datagrams, and
# meets the link boundary through its API. docs/architecture.md draws the floors.
FLOORS := wire storage net link ip fwd tcp tcp/cc udp stack sim host
LIB_FLOORS := wire storage net link ip fwd tcp tcp/cc udp stack sim
ALL_FLOOR_DIRS := include wire storage net link ip fwd tcp tcp/cc udp stack sim host
FLOOR_wire := include wire
FLOOR_storage := include wire storage
FLOOR_net := include wire storage net
FLOOR_link := include wire storage net link
FLOOR_ip := include wire storage net ip
FLOOR_fwd := include wire storage net link fwd
FLOOR_tcp := include wire storage net ip tcp tcp/cc
FLOOR_tcp/cc := include wire storage net ip tcp tcp/cc
FLOOR_udp := include wire storage net ip udp
FLOOR_stack := include wire storage net link ip fwd tcp tcp/cc udp stack
FLOOR_sim := include wire storage sim
FLOOR_host := include wire host
