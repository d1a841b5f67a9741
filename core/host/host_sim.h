/* tcplua --sim SCRIPT [ARGS...]: runs a tcplua.sim script (in-memory
 * network, virtual clock) with no TUN and no privilege. */
#ifndef TL_HOST_SIM_H
#define TL_HOST_SIM_H
/* argv[0] is the script; returns the exit status. */
int host_sim_main(int argc, char **argv);
#endif
