-- Interop: urgent data the stack sends (conn:send(data, { urgent = true }))
-- as a Linux receiver sees it. Without SO_OOBINLINE the kernel takes the
-- byte before the urgent pointer out of band (RFC 6093 3: the pointer
-- points past the urgent data, which is how Linux reads it) and the rest
-- inline. Needs root.
local interop = require "helpers.interop"

-- Waits for the urgent mark (select's exceptional condition), takes the
-- out-of-band byte, then reads the stream to EOF.
local CLIENT = [[
import select, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
select.select([], [], [s], 10)
oob = s.recv(1, socket.MSG_OOB)
data = b""
while True:
    c = s.recv(64)
    if not c:
        break
    data += c
print("inline=%s oob=%s" % (data.decode(), oob.decode()))
]]

describe("tcp interop: urgent data to a Linux receiver", function()
  it("arrives with its last byte out of band when SO_OOBINLINE is off (RFC 6093 3)", function()
    local ns = interop.stack({ "--seed", "61" }, "spec/tun/scripts/tcp_urgent_server.lua", { "7101" })
    if not ns then return end
    local f = assert(io.open(ns.tmp .. "/urg_client.py", "w"))
    f:write(CLIENT)
    f:close()
    local out, rc = ns:run(("timeout 20 python3 %s/urg_client.py %s 7101"):format(ns.tmp, interop.STACK))
    assert.equal(0, rc, out)
    assert.matches("inline=abcXY oob=Z", out, 1, true)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.tcp_urg_out >= 1, interop.digest(res.stats))
  end)
end)
