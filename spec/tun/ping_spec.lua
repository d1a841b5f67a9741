-- ICMP echo through a real TUN: the kernel in a fresh network namespace
-- pings the stack. Needs root (skipped with pending() otherwise).
local netns = require "helpers.netns"

local STACK, HOST = "10.77.0.2", "10.77.0.1"

-- RFC 1071 checksum of a Lua string.
local function csum(s)
  local sum = 0
  for i = 1, #s - 1, 2 do sum = sum + s:byte(i) * 256 + s:byte(i + 1) end
  if #s % 2 == 1 then sum = sum + s:byte(#s) * 256 end
  while sum > 0xffff do sum = (sum % 0x10000) + math.floor(sum / 0x10000) end
  return 0xffff - sum
end

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function addr(a)
  local b = {}
  for x in a:gmatch("%d+") do b[#b + 1] = string.char(tonumber(x)) end
  return table.concat(b)
end

-- An ICMP echo request (RFC 792) from HOST to STACK in an IPv4 datagram
-- (RFC 791); bad_ip_csum breaks the header checksum.
local function echo_request(id, seq, bad_ip_csum)
  local payload = "tcplua-netns-probe"
  local icmp = "\8\0" .. u16(0) .. u16(id) .. u16(seq) .. payload
  icmp = "\8\0" .. u16(csum(icmp)) .. icmp:sub(5)
  local hdr = "\69\0" .. u16(20 + #icmp) .. u16(id) .. "\0\0" .. "\64\1" .. u16(0) .. addr(HOST) .. addr(STACK)
  local c = csum(hdr)
  if bad_ip_csum then c = (c + 0x1111) % 0x10000 end
  return hdr:sub(1, 10) .. u16(c) .. hdr:sub(13) .. icmp
end

-- Echo replies (type 0) from STACK among captured datagrams, by ICMP id.
local function replies_by_id(datagrams)
  local ids = {}
  for _, d in ipairs(datagrams) do
    local ihl = (d:byte(1) % 16) * 4
    if #d >= ihl + 8 and d:byte(10) == 1 and d:sub(13, 16) == addr(STACK) and d:byte(ihl + 1) == 0 then
      local id = d:byte(ihl + 5) * 256 + d:byte(ihl + 6)
      ids[id] = (ids[id] or 0) + 1
    end
  end
  return ids
end

describe("tcplua on a TUN answers ping", function()
  local ok, why = netns.available()

  -- busted keeps one finally() per test: callers that need more cleanup
  -- register their own, which must also delete ns.
  local function started(args)
    local ns = netns.new()
    finally(function() ns:delete() end)
    ns:start(args or { "--stats" }, "spec/tun/scripts/idle.lua")
    assert(ns:wait_up())
    return ns
  end

  it("of 56 and 3,000 bytes (fragmented both ways)", function()
    if not ok then pending(why) return end
    local ns = started()
    local out, rc = ns:run("ping -c 3 -i 0.2 -W 2 " .. STACK)
    assert.equal(0, rc, out)
    assert.matches("3 received", out)
    out, rc = ns:run("ping -c 2 -i 0.2 -s 3000 -W 2 " .. STACK)
    assert.equal(0, rc, out)
    assert.matches("3008 bytes from " .. STACK:gsub("%.", "%%."), out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    -- 3,028-byte datagrams over a 1500 MTU: the kernel fragments the
    -- requests and the stack must fragment its replies.
    assert.is_true(res.stats.icmp_out >= 5, res.stdout)
    assert.is_true(res.stats.host_tun_tx > res.stats.icmp_out, res.stdout)
    -- Nothing the kernel sent was malformed or unexpected.
    for name, v in pairs(res.stats) do
      if name:match("^drop_") then assert.equal(0, v, name) end
    end
  end)

  it("under a bounded flood of 10,000 pings with no loss", function()
    if not ok then pending(why) return end
    local ns = started()
    local out, rc = ns:run("ping -f -q -c 10000 -w 30 " .. STACK)
    assert.equal(0, rc, out)
    assert.matches("10000 packets transmitted, 10000 received, 0%% packet loss", out)
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.icmp_out >= 10000)
  end)

  it("drops a datagram with a bad IPv4 header checksum, counts it and does not answer", function()
    if not ok then pending(why) return end
    local ns = started()
    local ps = ns:packet_socket()
    finally(function() ps:close() ns:delete() end)
    local BAD, GOOD = 0xbad1, 0x600d
    assert.equal(2, ps:send({ echo_request(BAD, 1, true), echo_request(GOOD, 1, false) }))
    -- The TUN queue is FIFO: once the good request's reply is back, the
    -- bad one has been read and judged.
    local seen = {}
    local replies = netns.wait_for(function()
      for _, d in ipairs(ps:recv_all()) do seen[#seen + 1] = d end
      local r = replies_by_id(seen)
      return r[GOOD] and r
    end, 3000)
    assert.truthy(replies, "no reply to the well-formed request")
    assert.is_nil(replies[BAD])
    local res = ns:stop()
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.drop_ip_checksum, res.stdout)
  end)
end)
