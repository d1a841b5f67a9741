-- Interop: the --tseq trace of a lossy transfer agrees with the --pcap
-- capture of the same run (decoded by tshark): every segment's window as
-- tshark scales it, the drops of the link impairment, and one relative
-- numbering per connection.
local interop = require "helpers.interop"

local STACK = interop.STACK
local q = interop.quote

local function csv_rows(path)
  local rows, cols = {}, nil
  for line in io.lines(path) do
    local f = {}
    for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
    if not cols then
      cols = {}
      for i, name in ipairs(f) do cols[name] = i end
    else
      local r = {}
      for name, i in pairs(cols) do r[name] = f[i] end
      rows[#rows + 1] = r
    end
  end
  return rows
end

describe("--tseq against --pcap", function()
  it("gives the scaled window tshark shows, records the impairment's drops, numbers each connection", function()
    local ns = interop.namespace()
    if not ns then return end
    local csv, pcap = ns.tmp .. "/t.csv", ns.tmp .. "/p.pcapng"
    interop.start(ns, { "--seed", "5", "--loss", "2%", "--tseq", csv, "--pcap", pcap }, "examples/echo.lua")
    interop.random_file(ns, "in", 300000)
    for i = 1, 2 do   -- two connections in one file
      local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 60 nc -N " .. STACK .. " 7 < in > out" .. i)
      assert.equal(0, rc, "nc failed: " .. out)
      assert.equal(interop.sha256(ns, "in"), interop.sha256(ns, "out" .. i))
    end
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.is_true(res.stats.impair_dropped > 0)

    -- tshark: direction, relative seq/ack, payload length, scaled window,
    -- whether the record is a drop, the client port (one per connection).
    local fields = "-T fields -E separator=, -e ip.src -e tcp.seq -e tcp.ack -e tcp.len -e tcp.window_size "
      .. "-e frame.comment -e tcp.srcport -e tcp.dstport -e tcp.flags.syn"
    local out, rc = ns:run("tshark -n -r " .. q(pcap) .. " -o tcp.relative_sequence_numbers:TRUE " .. fields)
    assert.equal(0, rc, out)
    local wins, pdrops, pconns = {}, 0, {}
    for line in out:gmatch("[^\n]+") do
      local src, seq, ack, len, win, comment, sport, dport = line:match(
        "^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)")
      if src and seq ~= "" then
        local dir = src == STACK and "out" or "in"
        local client = dir == "in" and sport or dport
        pconns[client] = true
        local key = table.concat({ client, dir, seq, ack, len }, "/")
        wins[key] = wins[key] or {}
        wins[key][win] = true
        if comment:match("dropped by fault") then pdrops = pdrops + 1 end
      end
    end

    local rows = csv_rows(csv)
    local checked, tdrops, conns, first_seq = 0, 0, {}, {}
    local port_of = {}   -- conn number -> client port, from the pcap's order
    local ports = {}
    for p in pairs(pconns) do ports[#ports + 1] = tonumber(p) end
    table.sort(ports)   -- nc's ephemeral ports rise: connection 1 is the lower
    for _, r in ipairs(rows) do
      if r.kind == "seg" then
        conns[r.conn] = true
        port_of[r.conn] = port_of[r.conn] or tostring(ports[tonumber(r.conn)])
        if r.marks:match("drop") then tdrops = tdrops + 1 end
        if first_seq[r.conn .. r.dir] == nil then first_seq[r.conn .. r.dir] = r.seq end
        if r.ack ~= "" then
          local key = table.concat({ port_of[r.conn], r.dir, r.seq, r.ack, r.len }, "/")
          local w = wins[key]
          assert(w, "no pcap record for tseq row " .. key)
          assert(w[r.win], ("tseq win %s for %s; pcap has %s"):format(r.win, key,
            table.concat((function() local t = {} for k in pairs(w) do t[#t + 1] = k end return t end)(), " ")))
          checked = checked + 1
        end
      end
    end
    assert.is_true(checked > 100, "only " .. checked .. " rows compared")
    -- Scaled: the stack's windows (wscale 7 or so) exceed the 16-bit field.
    local big = 0
    for _, r in ipairs(rows) do if r.kind == "seg" and tonumber(r.win or "") and tonumber(r.win) > 65535 then big = big + 1 end end
    assert.is_true(big > 0)
    -- Every drop of the impairment is in both.
    assert.equal(res.stats.impair_dropped, pdrops)
    assert.equal(pdrops, tdrops)
    -- Two connections, each numbered from its own ISN (its SYN is seq 0).
    assert.are.same({ ["1"] = true, ["2"] = true }, conns)
    for _, c in ipairs({ "1", "2" }) do
      assert.equal("0", first_seq[c .. "in"])
      assert.equal("0", first_seq[c .. "out"])
    end
    -- The plot draws connection 2 alone, its drops included (options after the files).
    local png = ns.tmp .. "/c2.png"
    local pout, prc = require("helpers.netns").sh("scripts/tseq-plot " .. q(csv) .. " " .. q(png) .. " --conn 2 --dir in")
    assert.equal(0, prc, pout)
    assert.is_true((interop.size(ns, "c2.png") or 0) > 10000)
  end)
end)
