-- bench/tlb_tunsend, the TUN-ceiling sender of scripts/bench: on a TUN of
-- its own it answers a kernel reader's connection and sends a pre-built
-- payload, as 64 KB GSO super-segments (offloads on) or one datagram per
-- write (off). The kernel must receive every byte in order with nothing
-- lost, or the figure it gives the report would mean nothing. Needs root.
local netns = require "helpers.netns"

local BYTES = 40 * 1000 * 1000

local function field(line, key)
  return tonumber((line or ""):match("%f[%w_]" .. key .. "=([%d.]+)"))
end

-- Runs the sender and a kernel reader that stops after BYTES; returns the
-- reader's line and the sender's.
local function transfer(offload)
  local ok, why = netns.available()
  if not ok then
    pending(why)
    return nil
  end
  local out, rc = netns.sh("make -s -C bench 2>&1")
  assert.equal(0, rc, "building bench/ failed: " .. out)
  local ns = netns.new()
  finally(function() ns:delete() end)
  local sout = ns.tmp .. "/tunsend.out"
  local reader
  reader, rc = ns:run(table.concat({
    "bench/build/tlb_tunsend -d tlbtun0 -k 10.77.0.1/24 -a 10.77.0.2 -p 19 -t 20 -o " .. offload
      .. " >" .. sout .. " 2>&1 & ts=$!",
    -- the device is up once the sender configured it
    "for i in $(seq 100); do ip -o -4 addr show dev tlbtun0 up 2>/dev/null | grep -q '10.77.0.1/' && break; sleep 0.05; done",
    "timeout 30 bench/build/tlb_bulk recv -H 10.77.0.2 -p 19 -t 15 -n " .. BYTES,
    "wait $ts",
  }, "; "))
  assert.equal(0, rc, "reader failed: " .. reader)
  local f = io.open(sout, "r")
  local sender = f and f:read("*a") or ""
  if f then f:close() end
  return reader, sender
end

describe("bench: the TUN-ceiling sender (bench/tlb_tunsend)", function()
  it("sends 64 KB GSO super-segments that the kernel reader receives whole", function()
    local reader, sender = transfer("on")
    if not reader then return end
    assert.equal(BYTES, field(reader, "bytes"), reader)
    assert.equal(0, field(reader, "retrans"), reader)
    assert.is_nil(sender:match("error="), sender)
    -- What the peer acknowledged covers what the reader read, but for the
    -- last segment when it closed before acknowledging that.
    assert.is_true(field(sender, "bytes") >= BYTES - 65536, sender)
    local writes = field(sender, "writes")
    assert.is_true(writes > 0, sender)
    assert.is_true(field(sender, "bytes") / writes > 32 * 1024, "not super-segments: " .. sender)
  end)

  it("sends one datagram per write with offloads off, checksums complete", function()
    local reader, sender = transfer("off")
    if not reader then return end
    assert.equal(BYTES, field(reader, "bytes"), reader)
    assert.is_nil(sender:match("error="), sender)
    assert.is_true(field(sender, "bytes") >= BYTES - 65536, sender)
    assert.is_true(field(sender, "bytes") / field(sender, "writes") <= 1460, sender)
  end)
end)
