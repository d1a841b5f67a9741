-- A spec that fails while it still holds a stack must not crash busted on
-- exit: the stack's ffi.gc finalizer runs during the final collection,
-- after the ffi.load handle may have unloaded the core (tcplua.core keeps
-- it mapped with RTLD_NODELETE). A crash there turns busted's exit status
-- into a signal's, which scripts/test counts as a failure.
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
  it("busted writes its summary and exits 1, without a crash", function()
    local path = os.tmpname() .. "_spec.lua"
    local summary = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(FAILING)
    f:close()
    -- busted's counts through scripts/test's output handler, not its
    -- terminal text (which this spec would print, nested, if it failed).
    local p = assert(io.popen("busted -o scripts/test_output.lua -Xoutput " .. summary .. " " .. path
      .. " 2>&1; echo \"rc=$?\""))
    local out = p:read("*a")
    p:close()
    os.remove(path)
    local counts, why = dofile("scripts/test_verdict.lua").load(summary)
    os.remove(summary)
    assert(counts, why)
    assert.are.same({ 0, 1, 0, 0 }, { counts.successes, counts.failures, counts.errors, #counts.pendings })
    assert.matches("rc=1\n", out, 1, true)
    assert.is_nil(out:find("Segmentation fault", 1, true), out)
  end)
end)
