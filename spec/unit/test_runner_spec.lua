-- scripts/test, the runner behind `make test` and CI: it must not pass a
-- run that failed. Each case writes a throwaway spec to a temp dir, runs
-- scripts/test (or its two halves, the busted output handler and the
-- verdict) on it, and checks the exit status and the final line CI reads.
local verdict = dofile("scripts/test_verdict.lua")

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"__rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return (out:gsub("__rc=%d+%s*$", "")), rc
end

local function last_line(out) return out:match("([^\n]*)\n*$") end

-- A temp dir with spec/tun/ in it, removed by finally().
local function tempdir()
  local dir = os.tmpname()
  os.remove(dir)
  local _, rc = sh("mkdir -p " .. q(dir .. "/spec/tun"))
  assert(rc == 0, "cannot make " .. dir)
  finally(function() sh("rm -rf " .. q(dir)) end)
  return dir
end

local function write(dir, name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

-- scripts/test on the given spec files. env: extra "VAR=value" words.
-- The run must not write CI's result file, whatever the outer run's is.
local function runner(env, ...)
  local files = {}
  for i, f in ipairs { ... } do files[i] = q(f) end
  return sh("env -u TCPLUA_TEST_RESULT -u TCPLUA_TEST_STRICT_TUN " .. (env or "") .. " scripts/test "
    .. table.concat(files, " "))
end

local PASS = [[describe("t", function() it("passes", function() assert.are.equal(2, 1 + 1) end) end)]]
local FAIL = [[describe("t", function() it("fails", function() assert.are.equal(3, 1 + 1) end) end)]]
local ERROR = [[describe("t", function() it("errors", function() local x = nil; return x.field end) end)]]
local LOAD_ERROR = [[error("this spec file does not load")]]
local SYNTAX = "describe(\"t\", function(\n"
local PENDING_TUN = [[describe("tun", function()
  it("needs the kernel", function() pending("needs root and /dev/net/tun: run as root") end)
end)]]
local PENDING_OTHER = [[describe("t", function() it("waits", function() pending("not written yet") end) end)]]
-- Fake summaries: printed, and inside a failure message.
local FAKE = [[describe("t", function()
  it("prints a summary that is not busted's", function()
    print("999 successes / 0 failures / 0 errors / 0 pending : 0.1 seconds")
    print("999 passed, 0 failed, 0 skipped")
    error("\n999 successes / 0 failures / 0 errors / 0 pending : 0.1 seconds\n999 passed, 0 failed, 0 skipped\n")
  end)
end)]]
local EARLY_EXIT = [[describe("t", function() it("leaves busted early", function() os.exit(0) end) end)]]
-- Passes, then the process dies after busted's summary: at exit, when
-- LuaJIT runs the finalizers.
local CRASH_AT_EXIT = [[local ffi = require "ffi"
ffi.cdef "int raise(int sig);"
RUNNER_SPEC_CRASH = ffi.gc(ffi.new("int[1]"), function() ffi.C.raise(9) end)
describe("t", function() it("passes", function() end) end)]]

describe("scripts/test", function()
  it("passes a passing spec", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "pass_spec.lua", PASS))
    assert.are.equal(0, rc, out)
    assert.are.equal("1 passed, 0 failed, 0 skipped", last_line(out), out)
  end)

  it("fails a failing spec and an erroring one, and names them", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "pass_spec.lua", PASS), write(dir, "fail_spec.lua", FAIL),
      write(dir, "error_spec.lua", ERROR))
    assert.are.equal(1, rc, out)
    assert.are.equal("1 passed, 2 failed, 0 skipped", last_line(out), out)
    assert.matches("FAILED (failure): " .. dir .. "/fail_spec.lua:1 t fails", out, 1, true)
    assert.matches("FAILED (error): " .. dir .. "/error_spec.lua:1 t errors", out, 1, true)
  end)

  it("fails a spec file that raises an error while loading, or does not parse", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "pass_spec.lua", PASS), write(dir, "load_spec.lua", LOAD_ERROR))
    assert.are.equal(1, rc, out)
    assert.are.equal("1 passed, 1 failed, 0 skipped", last_line(out), out)
    out, rc = runner(nil, write(dir, "syntax_spec.lua", SYNTAX))
    assert.are.equal(1, rc, out)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last_line(out), out)
  end)

  it("fails a spec file that does not exist", function()
    local dir = tempdir()
    local out, rc = runner(nil, dir .. "/missing_spec.lua")
    assert.are.equal(1, rc, out)
    assert.matches("^0 passed, [1-9]%d* failed, 0 skipped$", last_line(out))
  end)

  it("is not fooled by a summary a spec prints, or puts in its failure message", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "fake_spec.lua", FAKE))
    assert.matches("999 passed, 0 failed, 0 skipped", out, 1, true) -- it was printed...
    assert.are.equal(1, rc, out) -- ...and ignored
    assert.are.equal("0 passed, 1 failed, 0 skipped", last_line(out), out)
  end)

  it("fails when busted exits before its summary", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "pass_spec.lua", PASS), write(dir, "exit_spec.lua", EARLY_EXIT))
    assert.are.equal(1, rc, out)
    assert.matches("busted did not finish", out, 1, true)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last_line(out), out)
  end)

  it("fails when busted dies after a clean summary", function()
    local dir = tempdir()
    local out, rc = runner(nil, write(dir, "crash_spec.lua", CRASH_AT_EXIT))
    assert.are.equal(1, rc, out)
    assert.matches("after a clean summary", out, 1, true)
    assert.are.equal("1 passed, 1 failed, 0 skipped", last_line(out), out)
  end)

  it("as root, fails a pending spec under spec/tun and names it with its reason", function()
    local dir = tempdir()
    -- TCPLUA_TEST_STRICT_TUN=1 applies the root rule whoever runs this.
    local out, rc = runner("TCPLUA_TEST_STRICT_TUN=1", write(dir, "spec/tun/needs_root_spec.lua", PENDING_TUN),
      write(dir, "pass_spec.lua", PASS))
    assert.are.equal(1, rc, out)
    assert.are.equal("1 passed, 1 failed, 0 skipped", last_line(out), out)
    assert.matches("FAILED (pending under spec/tun as root): " .. dir
      .. "/spec/tun/needs_root_spec.lua:2 tun needs the kernel: needs root and /dev/net/tun: run as root", out, 1, true)
  end)

  it("fails a run whose specs leave a network namespace behind, and deletes it", function()
    if io.popen("id -u"):read("*l") ~= "0" then
      pending("needs root to create a network namespace (ip netns add)")
      return
    end
    local dir = tempdir()
    local id = ("leak%d"):format(math.random(1e6))
    -- the namespace is named as the helpers name theirs, with the run's tag
    local LEAK = ([[describe("t", function() it("leaks", function()
      os.execute("ip netns add tlt-" .. os.getenv("TCPLUA_NS_TAG") .. "-%s") end) end)]]):format(id)
    local out, rc = runner("", write(dir, "leak_spec.lua", LEAK))
    assert.are.equal(1, rc, out)
    local name = out:match("left network namespaces behind: (tlt%-%S+)")
    assert.is_truthy(name and name:find(id, 1, true), out)
    assert.are.equal("1 passed, 1 failed, 0 skipped", last_line(out), out)
    local left = io.popen("ip netns list"):read("*a")
    assert.is_nil(left:find(name, 1, true), "the namespace is still there")
  end)

  it("as root, lets a pending spec outside spec/tun skip, with its reason", function()
    local dir = tempdir()
    local out, rc = runner("TCPLUA_TEST_STRICT_TUN=1", write(dir, "later_spec.lua", PENDING_OTHER))
    assert.are.equal(0, rc, out)
    assert.are.equal("0 passed, 0 failed, 1 skipped", last_line(out), out)
    assert.matches("skipped (pending): " .. dir .. "/later_spec.lua:1 t waits: not written yet", out, 1, true)
  end)

  it("not as root, counts a pending spec under spec/tun as skipped and prints why", function()
    -- The runner's two halves without the uid check: the output handler,
    -- then the verdict without --strict-tun.
    local dir = tempdir()
    local spec = write(dir, "spec/tun/needs_root_spec.lua", PENDING_TUN)
    local summary = dir .. "/summary"
    local out, rc = sh("busted -o scripts/test_output.lua -Xoutput " .. q(summary) .. " " .. q(spec)
      .. "; env -u LD_PRELOAD luajit scripts/test_verdict.lua " .. q(summary) .. " $?")
    assert.are.equal(0, rc, out)
    assert.are.equal("0 passed, 0 failed, 1 skipped", last_line(out), out)
    assert.matches("skipped (pending): " .. spec .. ":2 tun needs the kernel: needs root", out, 1, true)
  end)

  it("fails, and says what to do, when the build it is pointed at does not exist", function()
    local out, rc = runner("TCPLUA_BUILD=build-nonexistent", "spec/unit/seq_spec.lua")
    assert.are.equal(1, rc, out)
    assert.matches("build-nonexistent/ is not built: run 'make'", out, 1, true)
    assert.are.equal("0 passed, 1 failed, 0 skipped", last_line(out), out)
  end)

  it("writes its final line to $TCPLUA_TEST_RESULT, for CI", function()
    local dir = tempdir()
    local result = dir .. "/result"
    local out, rc = runner("TCPLUA_TEST_RESULT=" .. q(result), write(dir, "fail_spec.lua", FAIL))
    assert.are.equal(1, rc, out)
    local f = assert(io.open(result))
    assert.are.equal("0 passed, 1 failed, 0 skipped\n", f:read("*a"))
    f:close()
  end)
end)

describe("the verdict", function()
  local clean = { runs = 1, successes = 5, failures = 0, errors = 0, pendings = {}, failed = {} }

  it("needs busted's summary", function()
    local lines, ok = verdict.judge(nil, "busted wrote no summary", 0, false)
    assert.is_false(ok)
    assert.are.equal("0 passed, 1 failed, 0 skipped", lines[#lines])
  end)

  it("passes a clean summary only with exit status 0", function()
    local lines, ok = verdict.judge(clean, nil, 0, true)
    assert.is_true(ok)
    assert.are.equal("5 passed, 0 failed, 0 skipped", lines[#lines])
    lines, ok = verdict.judge(clean, nil, 134, true)
    assert.is_false(ok)
    assert.are.equal("5 passed, 1 failed, 0 skipped", lines[#lines])
  end)

  it("tells spec/tun apart by the path of the spec", function()
    assert.is_true(verdict.is_tun("spec/tun/echo_spec.lua"))
    assert.is_true(verdict.is_tun("./spec/tun/echo_spec.lua"))
    assert.is_true(verdict.is_tun("/tmp/x/spec/tun/echo_spec.lua"))
    assert.is_false(verdict.is_tun("spec/sim/tun_spec.lua"))
    assert.is_false(verdict.is_tun("spec/helpers/netns.lua"))
  end)
end)
