-- Interop: examples/toxiproxy.lua driven by a toxiproxy client no one here
-- wrote (the npm package toxiproxy-node-client, installed by scripts/deps
-- from spec/tools/toxiproxy-client/package-lock.json), with kernel servers
-- on the host side of the TUN (socat: an echo, and a source that sends
-- SOURCE bytes then closes) and kernel clients (node's net for round
-- trips, spec/tools/toxiproxy-client/drain.py for reads to the end). Each
-- case runs one scenario of scenario.js, which prints what it measured;
-- the assertions are on the client's view: times at least what the toxic
-- imposes, exact byte counts, how the connection ended.
local interop = require "helpers.interop"
local cjson = require "cjson"

local STACK, HOST = interop.STACK, interop.HOST
local q = interop.quote
local CLIENT = "spec/tools/toxiproxy-client"
local SOURCE = 200000

-- The client must be installed: a missing one fails loudly (never a pass).
local function client_installed()
  local f = io.open(CLIENT .. "/node_modules/toxiproxy-node-client/package.json", "rb")
  if f then f:close() return true end
  return false
end

local function start(ns)
  interop.start(ns, { "--seed", "14" }, "examples/toxiproxy.lua", {})
  -- (each pid recorded, to end exactly these two at cleanup)
  local pids = q(ns.tmp .. "/socat.pids")
  ns:run("(timeout 120 socat TCP-LISTEN:9000,bind=" .. HOST .. ",fork,reuseaddr EXEC:cat >/dev/null 2>&1 & echo $! >> "
    .. pids .. ")")
  ns:run("(timeout 120 socat TCP-LISTEN:9001,bind=" .. HOST .. ",fork,reuseaddr SYSTEM:'head -c " .. SOURCE
    .. " /dev/zero' >/dev/null 2>&1 & echo $! >> " .. pids .. ")")
  ns.cleanups[#ns.cleanups + 1] = function()
    for pid in interop.read_file(ns.tmp .. "/socat.pids"):gmatch("%d+") do ns:run("kill " .. pid) end
  end
  assert(interop.wait_for(function()
    local ss = ns:run("ss -ltn")
    return ss:match(HOST:gsub("%.", "%%.") .. ":9000") and ss:match(HOST:gsub("%.", "%%.") .. ":9001")
  end, 5000), "socat did not listen")
end

-- Runs scenario `name` in a fresh namespace; returns its result table.
local function scenario(name)
  assert(client_installed(), "toxiproxy-node-client is missing from " .. CLIENT
    .. "/node_modules: run scripts/deps (it runs npm ci there)")
  local ns = interop.namespace()
  if not ns then return nil end
  start(ns)
  local out, rc = ns:run(("cd %s && timeout 90 node scenario.js %s http://%s:8474 %s %s:9000 %s:9001 %d"):format(
    q(CLIENT), name, STACK, STACK, HOST, HOST, SOURCE))
  local line = out:match("({.*})%s*$")
  assert(rc == 0 and line, "scenario " .. name .. " failed (" .. tostring(rc) .. "): " .. out
    .. "\n" .. interop.stderr(ns))
  local res = interop.stop(ns)
  assert.equal(0, res.rc, res.stderr)
  -- The client's sockets close as the scenario ends, so the SIGTERM may
  -- find a Lua step running; the binary says so, which is no error.
  local stderr = res.stderr:gsub("tcplua: stopping on SIGTERM once the running Lua step returns[^\n]*\n", "")
  assert.equal("", stderr)
  return cjson.decode(line), res
end

-- The lower bounds of a toxic's effect, in ms: the client's clock starts
-- when its connect returns or its request leaves, a little after the
-- toxic's (at tcplua's accept or read), and tcplua's timers fire on the
-- loop's 1 ms tick, so an effect may measure a few ms short of its setting.
local SLACK = 5

describe("examples/toxiproxy.lua with toxiproxy-node-client", function()
  it("answers the API as toxiproxy does (create, toxics, update, reset, populate, errors)", function()
    local r = scenario("api")
    if not r then return end
    assert.equal('{"version": "2.12.0"}\n', r.version)
    assert.same({ enabled = true, listen = STACK .. ":21000", name = "p21000", upstream = HOST .. ":9000" }, r.created)
    assert.same({ attributes = { latency = 100, jitter = 10 }, name = "latency_downstream", stream = "downstream",
      toxicity = 1, type = "latency" }, r.toxic)
    assert.same({ attributes = { latency = 200, jitter = 10 }, name = "latency_downstream", stream = "downstream",
      toxicity = 0.5, type = "latency" }, r.updated)
    assert.same(r.updated, r.fetched)
    assert.same({ "p21000" }, r.all)
    assert.same(r.created, r.got)
    assert.equal("Request failed with status code 409", r.dup)
    assert.equal("Request failed with status code 400", r.badtype)
    assert.equal("Request failed with status code 404", r.missing)
    assert.is_false(r.disabled.enabled)
    assert.is_true(r.after_reset.enabled)
    assert.same({ "pop" }, r.populated)
    assert.same({ "pop" }, r.after_remove)
  end)

  it("latency added, changed and removed on an open connection sets its round trip", function()
    local r = scenario("latency")
    if not r then return end
    assert.is_true(r.with300 >= 300 - SLACK, "with 300 ms downstream: " .. r.with300)
    assert.is_true(r.with600 >= 600 - SLACK, "updated to 600 ms: " .. r.with600)
    assert.is_true(r.removed < 300, "removed, still " .. r.removed)
    assert.is_true(r.upstream200 >= 200 - SLACK, "200 ms upstream: " .. r.upstream200)
  end)

  it("bandwidth: 200 KB at 100 KB/s take at least 2 s, byte-exact", function()
    local r = scenario("bandwidth")
    if not r then return end
    assert.same({ SOURCE, "end" }, { r.base.bytes, r.base.how })
    assert.same({ SOURCE, "end" }, { r.limited.bytes, r.limited.how })
    assert.is_true(r.limited.ms >= SOURCE / r.rate_kbs - SLACK, "took " .. r.limited.ms .. " ms")
  end)

  it("timeout: no data, then closed after the timeout; timeout 0 holds until the toxic is removed", function()
    local r = scenario("timeout")
    if not r then return end
    assert.same({ 0, "end" }, { r.timeout.bytes, r.timeout.how })
    assert.is_true(r.timeout.ms >= 1000 - SLACK, "closed after " .. r.timeout.ms .. " ms")
    assert.same({ ended = false, bytes = 0 }, r.forever)
    assert.is_number(r.closed_after_removal_ms)
  end)

  it("reset_peer: the client sees ECONNRESET after the timeout", function()
    local r = scenario("reset_peer")
    if not r then return end
    assert.equal("ECONNRESET", r.how)
    assert.equal(0, r.bytes)
    assert.is_true(r.ms >= 500 - SLACK, "reset after " .. r.ms .. " ms")
  end)

  it("limit_data: exactly the limit, then the end", function()
    local r = scenario("limit_data")
    if not r then return end
    assert.same({ 10000, "end" }, { r.bytes, r.how })
  end)

  it("slow_close holds the end back; slicer keeps every byte", function()
    local r = scenario("slow_close")
    if not r then return end
    assert.same({ SOURCE, "end" }, { r.bytes, r.how })
    assert.is_true(r.ms >= 1000 - SLACK, "ended after " .. r.ms .. " ms")
  end)

  it("enabled: false closes the open connection and the listener; true opens it again", function()
    local r = scenario("disable")
    if not r then return end
    assert.is_true(r.closed)
    assert.equal("ECONNREFUSED", r.refused)
    assert.is_true(r.reenabled)
  end)

  it("--config FILE populates proxies at start, PORT moves the API; curl gets toxiproxy's answers", function()
    local ns = interop.namespace()
    if not ns then return end
    local f = assert(io.open(ns.tmp .. "/proxies.json", "wb"))
    f:write('[{"name":"cfg","listen":"localhost:0","upstream":"localhost:9000"}]')
    f:close()
    interop.start(ns, {}, "examples/toxiproxy.lua", { "--config", ns.tmp .. "/proxies.json", STACK .. ":8080" })
    local out, rc = ns:run("timeout 10 curl -s " .. STACK .. ":8080/proxies " .. STACK .. ":8080/proxies/none")
    assert.equal(0, rc, out)
    assert.equal('{"cfg":{"name":"cfg","listen":"' .. STACK .. ':20000","upstream":"localhost:9000","enabled":true,'
      .. '"toxics":[]}}{"error":"proxy not found","status":404}\n', out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
  end)

  it("the tcplua toxic applies a fault policy to the proxy's segments", function()
    local r, res = scenario("tcplua")
    if not r then return end
    -- reset_after{ bytes = 20000 }: the segment crossing byte 20000 becomes a RST
    assert.equal("ECONNRESET", r.cut.how)
    assert.is_true(r.cut.bytes <= 20000 and r.cut.bytes > 20000 - 1500, "read " .. r.cut.bytes)
    assert.is_true(r.delayed >= 300 - SLACK, "delay(300) on the segments to the client: " .. r.delayed)
    assert.is_true(res.stats.fault_reset >= 1)
  end)
end)
