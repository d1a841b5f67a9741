-- How fast the simulator's link moves raw datagrams: a million 21-byte UDP
-- datagrams, a thousand per millisecond of virtual time, counted on arrival.
-- A speed figure, so it lives here and not in the specs
-- (spec/sim/sim_link_spec.lua checks that every one arrives).
--
--   make && luajit bench/sim_link_rate.lua [PACKETS]
package.path = "lua/?.lua;build/lua/?.lua;spec/?.lua;" .. package.path
local core = require "tcplua.core"
local P = require "helpers.ipv4pkt"
local C, ffi = core.C, core.ffi

local total = tonumber(arg and arg[1]) or 1000000
local burst = 1000
local sim = ffi.gc(C.tl_sim_new(1, 1000), C.tl_sim_free)
local a, b = C.tl_sim_add_raw(sim, P.addr("10.0.0.1")), C.tl_sim_add_raw(sim, P.addr("10.0.0.2"))
local dgram = P.datagram({ src = "10.0.0.1", dst = "10.0.0.2", proto = 17, id = 1 }, "1")

local t0, n = os.clock(), 0
for round = 1, math.ceil(total / burst) do
  for _ = 1, burst do P.send(sim, a, dgram) end
  C.tl_sim_run(sim, round * 1000 + 1000)
  while P.recv(sim, b) do n = n + 1 end
end
local cpu = os.clock() - t0
assert(n == math.ceil(total / burst) * burst, "lost datagrams: " .. n)
print(("sim link: %d datagrams in %.2f s of CPU, %.0f datagrams/s"):format(n, cpu, n / cpu))
