-- Faults on traffic the gateway forwards (docs/gateway.md): the
-- command-line loss with a capture (byte-exact download, retransmissions
-- in the pcap as tshark sees them), per-direction flags, a Lua policy
-- resetting a flow after N bytes (curl reports the reset, having got N
-- bytes less at most a segment or two), and the passive flow table seen
-- from a hook (a dropped SYN retransmitted, states, byte counts).
local gateway = require "helpers.gateway"

local q = gateway.quote

local function make_file(ns, n)
  local path = ns.tmp .. "/www/big.bin"
  local out, rc = gateway.sh("mkdir -p " .. q(ns.tmp .. "/www") .. " && head -c " .. n .. " /dev/urandom >" .. q(path)
    .. " && sha256sum " .. q(path))
  assert(rc == 0, out)
  return path, out:match("^(%x+)")
end

local function http_server(gw, port)
  gw:background(gw.b, "cd " .. q(gw.b.tmp .. "/www") .. " && exec python3 -m http.server " .. port .. " --bind "
    .. gateway.B, 90)
  assert(gw:wait_listen(gw.b, port), "the HTTP server did not start")
end

local function fetch(gw, port, dst)
  return gw.a:run("timeout 60 curl -sS -o " .. q(dst) .. " -w 'size=%{size_download}\\n' http://" .. gateway.B .. ":"
    .. port .. "/big.bin; echo curl_rc=$?; sha256sum " .. q(dst))
end

describe("gateway: faults on forwarded traffic", function()
  it("--loss 2%: the download is byte-exact and the capture shows the retransmissions", function()
    local cap = os.tmpname()
    finally(function() os.remove(cap) end)
    local gw = gateway.new({ "--loss", "2%", "--seed", "7", "--pcap", cap })
    if not gw then return end
    local _, sum = make_file(gw.b, 4 * 1000 * 1000)
    http_server(gw, 8080)
    local out = fetch(gw, 8080, gw.a.tmp .. "/got.bin")
    assert.truthy(out:match("curl_rc=0"), out)
    assert.truthy(out:match(sum), out)
    local res = gw:stop()
    assert.are.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.host_impair_rx_lost > 0 and res.stats.host_impair_b_rx_lost > 0)
    local n = gateway.sh("tshark -r " .. q(cap) .. " -Y tcp.analysis.retransmission 2>/dev/null | wc -l")
    assert.is_true(tonumber(n:match("%d+")) > 0, "no retransmission in the capture")
    local notes = gateway.sh("tshark -r " .. q(cap) .. " -T fields -e frame.comment 2>/dev/null | grep -c loss")
    assert.is_true(tonumber(notes:match("%d+")) > 0, "no loss noted in the capture")
  end)

  it("a->b: applies a fault one way only", function()
    local gw = gateway.new({ "--loss", "a->b:100%" })
    if not gw then return end
    local out, rc = gw.a:run("ping -c 1 -W 1 " .. gateway.B)
    assert.are_not.equal(0, rc, out)
    local res = gw:stop()
    assert.is_true(res.stats.host_impair_rx_lost >= 1)
    assert.is_nil(res.stats.host_impair_b_rx_lost) -- no impairment from side b
  end)

  it("a Lua policy resets the flow after N bytes: curl reports the reset having got about N", function()
    local N = 300000
    local gw = gateway.new({}, "examples/gateway_reset_after.lua", { tostring(N) })
    if not gw then return end
    make_file(gw.b, 2 * 1000 * 1000)
    http_server(gw, 8080)
    local out = fetch(gw, 8080, gw.a.tmp .. "/got.bin")
    assert.truthy(out:match("curl_rc=56"), out) -- "Recv failure: Connection reset by peer"
    assert.truthy(out:match("[Rr]eset"), out)
    local got = tonumber(out:match("size=(%d+)"))
    -- The body is what came before the segment that crossed N, less the
    -- HTTP header (a few hundred bytes); the segment itself was dropped.
    assert.is_true(got <= N and got >= N - 3 * 1448, "got " .. tostring(got))
    -- The server's end was reset too: nothing left open on port 8080.
    assert.truthy(gateway.wait_for(function()
      local s = gw.b:run("ss -tnH state established '( sport = :8080 )'")
      return not s:match("%d")
    end, 3000))
    local res = gw:stop()
    assert.is_true(res.stats.fwd_resets >= 1)
  end)

  it("changes one byte of a response body with valid checksums (examples/gateway_corrupt_body.lua)", function()
    local gw = gateway.new({}, "examples/gateway_corrupt_body.lua", { "4096" })
    if not gw then return end
    local src = make_file(gw.b, 100000)
    http_server(gw, 8080)
    local dst = gw.a.tmp .. "/got.bin"
    local out = fetch(gw, 8080, dst)
    assert.truthy(out:match("curl_rc=0"), out)
    -- Exactly one byte differs, at stream offset 4096 less the HTTP header.
    local diff = gateway.sh("cmp -l " .. q(src) .. " " .. q(dst))
    local n, first = 0, nil
    for pos in diff:gmatch("(%d+)%s+%d+%s+%d+") do
      n = n + 1
      first = first or tonumber(pos)
    end
    assert.are.equal(1, n, diff)
    assert.is_true(first > 3500 and first <= 4096, diff)
    gw:stop()
  end)

  it("hooks see UDP and ICMP as packet views: a policy drops UDP only", function()
    local gw = gateway.new({}, "spec/tools/gateway_udp_drop.lua")
    if not gw then return end
    local got = gw:background(gw.b, "socat -u UDP-RECVFROM:9000,bind=" .. gateway.B .. " -", 10)
    assert(gw:wait_listen(gw.b, 9000, true), "socat did not listen")
    local out, rc = gw.a:run("echo lost-datagram | socat -u - UDP-SENDTO:" .. gateway.B .. ":9000")
    assert.are.equal(0, rc, out)
    -- ICMP passes (and, sent after the datagram, comes back after it was judged).
    out, rc = gw.a:run("ping -c 1 -W 2 " .. gateway.B)
    assert.are.equal(0, rc, out)
    local res = gw:stop()
    assert.truthy(res.stdout:match("dropped udp 10%.78%.1%.2:%d+ > 10%.78%.2%.2:9000 len %d+ side a"), res.stdout)
    assert.is_nil(gateway.read_file(got):match("lost%-datagram"))
    assert.is_true(res.stats.hook_dropped >= 1)
  end)

  it("--trace and --tseq record forwarded flows, with the flow table's states", function()
    local csv = os.tmpname()
    finally(function() os.remove(csv) end)
    local gw = gateway.new({ "--trace", "--tseq", csv })
    if not gw then return end
    make_file(gw.b, 50000)
    http_server(gw, 8080)
    local out = fetch(gw, 8080, gw.a.tmp .. "/got.bin")
    assert.truthy(out:match("curl_rc=0"), out)
    local _, rc = gw.a:run("ping -c 1 -W 2 " .. gateway.B)
    assert.are.equal(0, rc)
    local res = gw:stop()
    local err = res.stderr
    assert.truthy(err:match("in 10%.78%.1%.2%.%d+ > 10%.78%.2%.2%.8080: Flags %[S%].-SYN_SENT"), err)
    assert.truthy(err:match("out 10%.78%.2%.2%.8080 > 10%.78%.1%.2%.%d+: Flags %[S%.%].-SYN_RECEIVED"), err)
    assert.truthy(err:match("ESTABLISHED"), err)
    assert.truthy(err:match("in 10%.78%.1%.2 > 10%.78%.2%.2: ICMP echo request, type 8, code 0"), err)
    local rows = gateway.sh("grep -c ',seg,' " .. q(csv))
    assert.is_true(tonumber(rows:match("%d+")) > 10, rows)
  end)

  it("delays only the server's FIN (examples/gateway_delay_fin.lua), as the trace shows", function()
    local gw = gateway.new({ "--trace" }, "examples/gateway_delay_fin.lua", { "200" })
    if not gw then return end
    make_file(gw.b, 30000)
    http_server(gw, 8080)
    local out = fetch(gw, 8080, gw.a.tmp .. "/got.bin")
    assert.truthy(out:match("curl_rc=0"), out)
    gateway.wait_for(function() return gateway.read_file(gw.g.err):match("Flags %[F") end, 3000)
    local res = gw:stop()
    local delayed, other = 0, 0
    for line in res.stderr:gmatch("[^\n]+") do
      if line:match("Flags %[F") then
        if line:match("^%S+ out 10%.78%.2%.2%.8080 >") and line:match("server FIN delayed") then
          delayed = delayed + 1
        elseif line:match("delayed") then
          other = other + 1
        end
      end
    end
    assert.is_true(delayed >= 1, res.stderr)
    assert.are.equal(0, other, res.stderr) -- the client's FIN went on at once
  end)

  it("shows hooks the flow table: a dropped SYN is retransmitted, states and bytes follow", function()
    local gw = gateway.new({}, "spec/tools/gateway_flow_log.lua")
    if not gw then return end
    make_file(gw.b, 100000)
    http_server(gw, 8080)
    local out = fetch(gw, 8080, gw.a.tmp .. "/got.bin")
    assert.truthy(out:match("curl_rc=0"), out)
    local res = gw:stop()
    local log = res.stdout
    assert.truthy(log:match("dropped SYN syn_retx=0"), log)
    assert.truthy(log:match("SYN syn_retx=1 passes"), log)
    assert.truthy(log:match("state ESTABLISHED"), log)
    assert.truthy(log:match("state FIN_WAIT"), log)
    assert.truthy(log:match("table 10%.78%.1%.2:%d+ 10%.78%.2%.2:8080 syns=2"), log) -- tcplua.flows()
    local bytes = tonumber(log:match("final bytes_s2c=(%d+)"))
    assert.is_true(bytes >= 100000, log)
  end)
end)
