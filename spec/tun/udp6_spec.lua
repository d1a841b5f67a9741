-- UDP over IPv6 through a real TUN: the kernel's own tools (socat UDP6,
-- nc -u -6, a python3 AF_INET6 socket, dig -6) against examples/udp_echo.lua,
-- examples/echo.lua and examples/dns.lua on fd77::2, in a fresh network
-- namespace. Needs root (pending otherwise).
local netns = require "helpers.netns"
local interop = require "helpers.interop"

local STACK6 = "fd77::2"
local CLIENT = "python3 " .. netns.quote(os.getenv("PWD") .. "/spec/tun/scripts/udp_client.py")

describe("UDP over IPv6 on a TUN", function()
  local stopped = interop.stopped

  it("echoes socat UDP6 and nc -u -6 datagrams byte-exact (examples/udp_echo.lua)", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. netns.quote(ns.tmp) .. " && head -c 1200 /dev/urandom > in && "
      .. "timeout 5 socat -t 2 - UDP6:[" .. STACK6 .. "]:7 < in > out && cmp in out && echo same")
    assert.equal(0, rc, out)
    assert.equal("same\n", out)
    out, rc = ns:run("printf 'hello udp6\\n' | timeout 5 nc -u -6 -w 1 " .. STACK6 .. " 7")
    assert.equal(0, rc, out)
    assert.equal("hello udp6\n", out)
    local st = stopped(ns)
    assert.is_true(st.udp6_in >= 2 and st.udp_out >= 2, "udp6_in " .. tostring(st.udp6_in))
    assert.equal(0, st.drop_udp_checksum + st.drop_udp6_zero_checksum)
  end)

  it("returns datagrams of 1 to 30000 bytes, 3000 and up fragmented both ways", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run(CLIENT .. " echo " .. STACK6 .. " 7 1 1452 3000 8000 30000")
    assert.equal(0, rc, out)
    assert.equal("ok 1\nok 1452\nok 3000\nok 8000\nok 30000\n", out)
    local st = stopped(ns)
    assert.is_true(st.ip6_frag_in >= 6, "ip6_frag_in " .. tostring(st.ip6_frag_in))
    assert.is_true(st.ip6_fragmented >= 3, "ip6_fragmented " .. tostring(st.ip6_fragmented))
    assert.equal(0, st.drop_udp_checksum)
  end)

  it("answers a closed port with ICMPv6 port unreachable: the kernel's socket sees ECONNREFUSED", function()
    local ns = interop.stack(nil, "examples/udp_echo.lua")
    if not ns then return end
    local out, rc = ns:run(CLIENT .. " refused " .. STACK6 .. " 9")
    assert.equal(0, rc, out)
    assert.equal("refused\n", out)
    local st = stopped(ns)
    assert.equal(1, st.udp_no_port)
    assert.equal(1, st.icmp6_err_out)
  end)

  it("serves UDP echo over IPv6 beside TCP (examples/echo.lua)", function()
    local ns = interop.stack(nil, "examples/echo.lua")
    if not ns then return end
    local out, rc = ns:run("printf 'both6\\n' | timeout 5 nc -u -6 -w 1 " .. STACK6 .. " 7")
    assert.equal(0, rc, out)
    assert.equal("both6\n", out)
    stopped(ns)
  end)

  it("answers dig -6 from examples/dns.lua: AAAA and A", function()
    local ns = interop.stack(nil, "examples/dns.lua")
    if not ns then return end
    local dig = "timeout 10 dig -6 +time=2 +tries=2 @" .. STACK6 .. " "
    local out, rc = ns:run(dig .. "+short TCPLUA.test AAAA")
    assert.equal(0, rc, out)
    assert.equal("fd77::2\n", out)
    out, rc = ns:run(dig .. "+short www.tcplua.test A")
    assert.equal(0, rc, out)
    local got = {}
    for a in out:gmatch("%S+") do got[#got + 1] = a end
    table.sort(got)
    assert.are.same({ "10.77.0.2", "10.77.0.3" }, got)
    local st = stopped(ns)
    assert.equal(2, st.udp6_in)
  end)
end)
