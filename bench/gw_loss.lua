-- tcplua --gateway with a 1 % random loss policy from the fault library,
-- both ways: scripts/bench's gateway section (goodput through it).
local tcplua = require "tcplua"
local fault = require "tcplua.fault"
tcplua.on_segment(fault.loss(0.01))
