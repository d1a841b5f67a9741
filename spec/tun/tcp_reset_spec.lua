-- Interop: a kernel RST in the middle of a transfer reaches the Lua code as
-- the error "reset" (not "closed", not a crash): a server handler that is
-- receiving, one that is sending, and the stack's own client. The kernel end
-- closes with SO_LINGER 0 (spec/tools/tcp_rst_client.lua, tcp_rst_server.lua),
-- which is deterministic: the kernel aborts and sends RST. Needs root.
local interop = require "helpers.interop"

local STACK = interop.STACK
local SERVER = "spec/tun/scripts/tcp_reset_server.lua"
local CLIENT = "spec/tools/tcp_rst_client.lua"

local function rst_client(ns, port, send_bytes, read_bytes)
  return ns:run(("timeout 20 luajit %s %s %d %d %d"):format(CLIENT, STACK, port, send_bytes, read_bytes))
end

describe("tcp interop: a kernel RST mid-transfer", function()
  it("ends a receiving handler with nil, \"reset\"", function()
    local ns = interop.stack({ "--seed", "51" }, SERVER, { "7001", "receive" })
    if not ns then return end
    -- 4 MB: the client's send returns with much of it still queued in the
    -- kernel, so the RST cuts the stream short.
    local out, rc = rst_client(ns, 7001, 4 * 1024 * 1024, 0)
    assert.equal(0, rc, out)
    assert.matches("rst%-client: sent=4194304", out)
    local received, err = interop.wait_stdout(ns, "handler: received=(%d+) err=(%S+)", 10000)
    assert.is_truthy(received, "the handler never reported: " .. interop.stdout(ns) .. interop.stderr(ns))
    err = interop.stdout(ns):match("handler: received=%d+ err=(%S+)")
    assert.equal("reset", err)
    -- Mid-transfer: the kernel's send() returns with up to its send buffer
    -- still queued (the stack's window is far smaller), and the RST drops it.
    -- Usually the RST throws away data the server had queued, but a server
    -- descheduled between its last send() and close() may have flushed it
    -- all first: the reset must be reported either way.
    assert.is_true(tonumber(received) > 0 and tonumber(received) <= 4 * 1024 * 1024, received)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.tcp_conn_reset, interop.digest(res.stats))
    assert.is_true(res.stats.tcp_rst_in >= 1)
    assert.not_matches("error", res.stderr)
  end)

  it("ends a sending handler with nil, \"reset\"", function()
    local ns = interop.stack({ "--seed", "52" }, SERVER, { "7002", "send" })
    if not ns then return end
    -- The client reads 100 KB of the endless stream, then aborts.
    local out, rc = rst_client(ns, 7002, 0, 100 * 1024)
    assert.equal(0, rc, out)
    assert.matches("rst%-client: sent=0 read=102400", out)
    local sent = interop.wait_stdout(ns, "handler: sent=(%d+) err=%S+", 10000)
    assert.is_truthy(sent, "the handler never reported: " .. interop.stdout(ns) .. interop.stderr(ns))
    assert.equal("reset", interop.stdout(ns):match("handler: sent=%d+ err=(%S+)"))
    assert.is_true(tonumber(sent) >= 100 * 1024)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.tcp_conn_reset, interop.digest(res.stats))
    assert.not_matches("error", res.stderr)
  end)

  it("ends the stack's client with \"reset\" when the kernel server aborts mid-stream", function()
    local ns = interop.namespace()
    if not ns then return end
    local f = assert(io.open(ns.tmp .. "/in", "wb"))
    f:write("request\n")
    f:close()
    -- The client retries a refused connect until the server listens.
    interop.start(ns, { "--seed", "53" }, "spec/tun/scripts/tcp_file_client.lua",
      { interop.HOST, "7004", ns.tmp .. "/in", "-" })
    local out, rc = ns:run(("timeout 20 luajit spec/tools/tcp_rst_server.lua %s 7004 %d"):format(interop.HOST,
      4 * 1024 * 1024))
    assert.equal(0, rc, out)
    assert.matches("rst%-server: sent=4194304", out)
    interop.wait_for(function() return ns:exited() end, 10000)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    local received, err = res.stdout:match("client: sent=%d+ received=(%d+) err=(%S+)")
    assert.equal("receive-reset", err, res.stdout)
    -- Usually the RST throws away data the server had queued, but a server
    -- descheduled between its last send() and close() may have flushed it
    -- all first: the reset must be reported either way.
    assert.is_true(tonumber(received) > 0 and tonumber(received) <= 4 * 1024 * 1024, received)
    assert.equal(1, res.stats.tcp_conn_reset, interop.digest(res.stats))
  end)
end)
