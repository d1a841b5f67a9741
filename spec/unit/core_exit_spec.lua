-- A spec that fails while it still holds a stack must not crash busted on
-- exit: the stack's ffi.gc finalizer runs during the final collection,
-- after the ffi.load handle may have unloaded the core (tcplua.core keeps
-- it mapped with RTLD_NODELETE). A crash there loses busted's summary line,
-- which scripts/test and CI read.
local FAILING = [[
describe("held stack", function()
  it("fails on purpose while a sim stack is alive", function()
    local sim = require("tcplua.sim").new { seed = 1, latency_ms = 1 }
    local a = sim:stack { addr = "10.0.0.1" }
    assert.are.equal(1, 2)
  end)
end)
]]

describe("exit with a stack still alive", function()
  it("busted prints its summary and exits nonzero, without a crash", function()
    local path = os.tmpname() .. "_spec.lua"
    local f = assert(io.open(path, "w"))
    f:write(FAILING)
    f:close()
    local p = assert(io.popen("busted -o utfTerminal " .. path .. " 2>&1; echo \"rc=$?\""))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    assert.matches("0 successes / 1 failure / 0 errors / 0 pending", out, 1, true)
    assert.matches("rc=1\n", out, 1, true)
    assert.is_nil(out:find("Segmentation fault", 1, true), out)
  end)
end)
