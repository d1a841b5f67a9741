-- TCP over IPv6 through a real TUN: the kernel's nc -6 and curl talk to
-- the examples over fd77::2, and a script of the stack connects to a
-- kernel listener on fd77::1. Needs root (pending otherwise).
local interop = require "helpers.interop"

local STACK6, HOST6 = "fd77::2", "fd77::1"
local q = interop.quote

describe("tcp interop over IPv6", function()
  it("echoes 10 MB byte-exact through nc -6, both directions", function()
    local ns = interop.stack({ "--stats" }, "examples/echo.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && head -c 10000000 /dev/urandom > in && "
      .. "timeout 120 nc -6 -N " .. STACK6 .. " 7 < in > out && cmp in out && echo equal")
    assert.equal(0, rc, out)
    assert.matches("equal", out)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    local s = res.stats
    assert.equal(1, s.tcp_passive_open)
    -- super-segments both ways (TSO6 and GRO): far fewer datagrams than MSS-sized ones
    assert.is_true(s.ip6_in > 100 and s.ip6_out > 100 and s.tcp_tso6_out > 0, res.stdout)
    -- nothing the kernel sent over IPv6 was malformed or refused
    for name, v in pairs(s) do
      if name:match("^drop_ip6_") or name:match("^drop_icmp6_") or name == "drop_tcp_checksum" then
        assert.equal(0, v, name)
      end
    end
  end)

  it("serves curl -g 'http://[fd77::2]:8080/' and a 1 MB body", function()
    local ns = interop.stack({ "--seed", "33" }, "examples/http.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 20 curl -g -sS -o body -w '%{http_code}' "
      .. "'http://[" .. STACK6 .. "]:8080/'")
    assert.equal(0, rc, out)
    assert.equal("200", out)
    assert.matches("Hello from tcplua", interop.read_file(ns.tmp .. "/body"), 1, true)
    out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 30 curl -g -sS -o big -w '%{http_code} %{size_download}' "
      .. "'http://[" .. STACK6 .. "]:8080/bytes/1000000'")
    assert.equal(0, rc, out)
    assert.equal("200 1000000", out)
    assert.equal(0, interop.stop(ns).rc)
  end)

  it("lets a script connect out to the kernel over IPv6", function()
    local ns = interop.namespace()
    if not ns then return end
    -- the kernel listens first (bounded), then the stack connects and writes
    local lout, rc = ns:run("cd " .. q(ns.tmp) .. " && (timeout 20 nc -6 -l 9000 > got 2>&1 &) ; "
      .. "for i in $(seq 100); do ss -ltnH | grep -q ':9000' && exit 0; sleep 0.05; done; exit 1")
    assert.equal(0, rc, "nc -6 -l never listened: " .. lout)
    interop.start(ns, { "--stats" }, "spec/tun/scripts/ipv6_client.lua", { HOST6, "9000" })
    local got = interop.wait_for(function()
      local s = interop.read_file(ns.tmp .. "/got")
      return s:match("done$") and s
    end, 10000)
    assert.truthy(got, interop.stdout(ns) .. interop.stderr(ns))
    assert.matches("^from fd77::2 port %d+ to fd77::1 port 9000\n", got)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
  end)
end)
