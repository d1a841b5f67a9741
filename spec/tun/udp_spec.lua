-- UDP through a real TUN (RFC 768, RFC 1122 4.1.3): the kernel's own tools
-- (nc -u, socat, a python3 socket, dig) against examples/udp_echo.lua,
-- examples/echo.lua and examples/dns.lua in a fresh network namespace.
-- Needs root (pending otherwise).
local netns = require "helpers.netns"
local interop = require "helpers.interop"

local STACK = interop.STACK
local CLIENT = "python3 " .. netns.quote(os.getenv("PWD") .. "/spec/tun/scripts/udp_client.py")

describe("UDP on a TUN", function()
  local stopped = interop.stopped

  it("echoes nc -u and socat datagrams (examples/udp_echo.lua)", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run("printf 'hello udp\\n' | timeout 5 nc -u -w 1 " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("hello udp\n", out)
    out, rc = ns:run("cd " .. netns.quote(ns.tmp) .. " && head -c 1400 /dev/urandom > in && "
      .. "timeout 5 socat -t 2 - UDP:" .. STACK .. ":7 < in > out && cmp in out && echo same")
    assert.equal(0, rc, out)
    assert.equal("same\n", out)
    local st = stopped(ns)
    assert.is_true(st.udp_delivered >= 2 and st.udp_out >= 2, "udp_delivered " .. tostring(st.udp_delivered))
  end)

  it("returns datagrams of 1 to 65507 bytes byte for byte, fragmented both ways", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run(CLIENT .. " echo " .. STACK .. " 7 1 100 1472 1473 8000 30000 65507")
    assert.equal(0, rc, out)
    assert.equal("ok 1\nok 100\nok 1472\nok 1473\nok 8000\nok 30000\nok 65507\n", out)
    local st = stopped(ns)
    -- 1473 and up do not fit a 1500-byte MTU: the kernel fragments them
    -- to us and we fragment the echo.
    assert.is_true(st.ip_reasm_ok >= 4, "ip_reasm_ok " .. tostring(st.ip_reasm_ok))
    assert.is_true(st.ip_fragmented >= 4, "ip_fragmented " .. tostring(st.ip_fragmented))
    assert.equal(0, st.drop_udp_checksum)
  end)

  it("takes datagrams the kernel sent without a checksum (SO_NO_CHECK)", function()
    local ns = interop.stack({ "--offload", "off" }, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run(CLIENT .. " nocsum " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("ok 1\nok 1000\n", out)
    local st = stopped(ns)
    assert.equal(2, st.udp_no_checksum_in)
  end)

  it("answers a closed port with port unreachable: the kernel's socket sees ECONNREFUSED", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run(CLIENT .. " refused " .. STACK .. " 9")
    assert.equal(0, rc, out)
    assert.equal("refused\n", out)
    out = ns:run("echo x | timeout 5 socat -t 2 - UDP:" .. STACK .. ":9 2>&1")
    assert.matches("Connection refused", out)
    local st = stopped(ns)
    assert.equal(2, st.udp_no_port)
    assert.equal(2, st.icmp_err_out)
  end)

  it("serves UDP echo beside TCP (examples/echo.lua)", function()
    local ns = interop.stack(nil, "examples/echo.lua")
    if not ns then return end
    local out, rc = ns:run("printf 'both\\n' | timeout 5 nc -u -w 1 " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("both\n", out)
    out, rc = ns:run("printf 'tcp too\\n' | timeout 5 nc -N " .. STACK .. " 7")
    assert.equal(0, rc, out)
    assert.equal("tcp too\n", out)
    stopped(ns)
  end)

  it("shows datagrams in --trace and --pcap, checksums good both ways", function()
    local ns = interop.namespace()
    if not ns then return end
    local pcap = ns.tmp .. "/run.pcapng"
    -- Offloads off: with them the kernel's datagrams carry only the
    -- pseudo-header sum (virtio NEEDS_CSUM), which tshark calls bad.
    interop.start(ns, { "--trace", "--pcap", pcap, "--offload", "off" }, "examples/udp_echo.lua")
    local out, rc = ns:run(CLIENT .. " echo " .. STACK .. " 7 5 3000")
    assert.equal(0, rc, out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.matches("in 10%.77%.0%.1%.%d+ > 10%.77%.0%.2%.7: UDP, length 5", res.stderr)
    assert.matches("out 10%.77%.0%.2%.7 > 10%.77%.0%.1%.%d+: UDP, length 5", res.stderr)
    local p = io.popen("tshark -r " .. netns.quote(pcap) .. " -Y udp -T fields -e udp.length -e udp.checksum.status"
      .. " -o udp.check_checksum:TRUE 2>/dev/null")
    local lines = p:read("*a")
    p:close()
    -- 5 and 3000 bytes each way: the 3000-byte ones reassembled by tshark.
    assert.equal(4, select(2, lines:gsub("\n", "")), lines)
    assert.equal("13\t1\n13\t1\n3008\t1\n3008\t1\n", lines) -- 1: "Good"
  end)

  it("answers dig from examples/dns.lua: A, AAAA and NXDOMAIN", function()
    local ns = interop.stack(nil, "examples/dns.lua")
    if not ns then return end
    local dig = "timeout 10 dig +time=2 +tries=2 @" .. STACK .. " "
    local out, rc = ns:run(dig .. "+short www.tcplua.test A")
    assert.equal(0, rc, out)
    local got = {}
    for a in out:gmatch("%S+") do got[#got + 1] = a end
    table.sort(got)
    assert.are.same({ "10.77.0.2", "10.77.0.3" }, got)
    out, rc = ns:run(dig .. "+short TCPLUA.test AAAA")
    assert.equal(0, rc, out)
    assert.equal("fd77::2\n", out)
    out, rc = ns:run(dig .. "nope.tcplua.test A")
    assert.equal(0, rc, out)
    assert.matches("status: NXDOMAIN", out)
    assert.matches("flags: qr aa", out)
    stopped(ns)
  end)
end)
