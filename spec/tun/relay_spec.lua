-- Interop: examples/relay.lua between a kernel client and a kernel server
-- in the namespace, byte-exact both ways, with half-close carried: the
-- server answers only after the client's FIN has reached it through the
-- relay, and the client reads the answer to the end after its own FIN.
local interop = require "helpers.interop"

local STACK, HOST = interop.STACK, interop.HOST
local q = interop.quote

describe("examples/relay.lua", function()
  it("relays 1 MB each way between kernel sockets, half-close carried both ways", function()
    local ns = interop.namespace()
    if not ns then return end
    local size = 1024 * 1024
    interop.random_file(ns, "request", size)
    interop.random_file(ns, "reply", size)
    -- (the host address exists once the TUN is up)
    interop.start(ns, { "--seed", "21" }, "examples/relay.lua", { "8080", HOST, "9000" })
    -- The server reads to EOF (the relay's FIN), then answers, then closes.
    ns:run("cd " .. q(ns.tmp) .. " && (timeout 60 socat -t 30 TCP-LISTEN:9000,bind=" .. HOST
      .. ",reuseaddr SYSTEM:'cat > got; cat reply' > socat.log 2>&1 &)")
    assert(interop.wait_for(function()
      return (ns:run("ss -ltn"):match(HOST:gsub("%.", "%%.") .. ":9000"))
    end, 5000), "socat did not listen")
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 60 nc -N " .. STACK .. " 8080 < request > answer")
    assert.equal(0, rc, "nc failed or timed out: " .. out)
    assert(interop.wait_for(function() return interop.size(ns, "got") == size end, 10000))
    assert.equal(interop.sha256(ns, "request"), interop.sha256(ns, "got"))
    assert.equal(size, interop.size(ns, "answer"))
    assert.equal(interop.sha256(ns, "reply"), interop.sha256(ns, "answer"))
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.equal("", res.stderr)
    assert.equal(1, res.stats.tcp_passive_open)
  end)
end)
