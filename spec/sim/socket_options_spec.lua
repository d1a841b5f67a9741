-- Options set before the SYN (tl_socket + tl_connect_sock), SHUT_RD,
-- cork / MSG_MORE and notsent_lowat, seen from the peer over the sim.
local luasim = require "helpers.luasim"

-- The SYN b sends to a when connecting with opts; returns the SYN's view
-- copy, the client's and server's conn:info(), and the error log.
local function handshake(opts)
  local sim, a, b, log = luasim.pair(7)
  local syn
  a.on_segment(function(seg, dir)
    if dir == "in" and seg.flags == "S" then syn = require("tcplua.fault").copy(seg) end
  end)
  local sinfo, cinfo, err
  assert(a.listen(7, function(conn) sinfo = conn:info(); conn:receive("*a") end))
  b.spawn(function()
    local c, e = b.connect("10.0.0.1", 7, opts)
    if not c then err = e return end
    cinfo = c:info()
    cinfo.congestion = c:getoption("congestion")
    cinfo.wscale_opt = c:getoption("wscale")
    c:close()
  end)
  sim:run(30000)
  return syn, cinfo, sinfo, err, log
end

describe("connect options before the SYN", function()
  it("by default the SYN offers MSS, window scale, timestamps and SACK", function()
    local syn, c = handshake()
    assert.equal(1460, syn.options.mss)
    assert.truthy(syn.options.ts)
    assert.is_true(syn.options.sackok)
    assert.truthy(syn.options.wscale)
    assert.equal(1448, c.mss)   -- 12 bytes for the timestamp option
  end)

  it("mss, timestamps, sack, window scale and the local port shape the SYN", function()
    local syn, c, s, err, log = handshake { mss = 600, timestamps = false, sack = false, wscale = false,
      sport = 4242, rcvbuf = 1000000, congestion = "reno" }
    assert.are.same({}, log)
    assert.is_nil(err)
    assert.equal(600, syn.options.mss)
    assert.is_nil(syn.options.ts)
    assert.is_nil(syn.options.sackok)
    assert.is_nil(syn.options.wscale)
    assert.equal(4242, syn.sport)
    assert.equal(600, c.mss)            -- no timestamp option to make room for
    assert.equal(600, s.mss)            -- the server sends at most what we offered
    assert.equal("reno", c.congestion)
    assert.equal(0, c.wscale_opt)       -- not agreed
    assert.is_true(syn.win <= 65535)
  end)

  it("rcvbuf before the SYN sets the window scale it offers", function()
    local small = handshake { rcvbuf = 60000 }
    local big = handshake { rcvbuf = 4 * 1024 * 1024 }
    assert.equal(0, small.options.wscale)
    assert.equal(7, big.options.wscale)  -- 65535 << 7 covers 4 MB
  end)

  it("a bad option value fails connect, naming it, before anything is sent", function()
    local syn, _, _, err = handshake { mss = 10 }
    assert.is_nil(syn)
    assert.equal("bad value for option mss: 10", err)
    syn, _, _, err = handshake { sport = 70000 }
    assert.is_nil(syn)
    assert.matches("sport", err)
  end)

  it("handshake options cannot change once the SYN is out", function()
    local sim, a, b, log = luasim.pair(8)
    assert(a.listen(7, function(conn) conn:receive("*a") end))
    local r
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      r = { c:setoption("timestamps", false) }
      c:close()
    end)
    sim:run(30000)
    assert.are.same({}, log)
    assert.are.same({ nil, "invalid" }, r)
  end)

  it("a listener's timestamps = false and sack = false are declined in its SYN-ACK", function()
    local sim, a, b, log = luasim.pair(9)
    local synack
    b.on_segment(function(seg, dir)
      if dir == "in" and seg.flags == "S." then synack = require("tcplua.fault").copy(seg) end
    end)
    assert(a.listen(7, function(conn) conn:receive("*a") end, { timestamps = false, sack = false }))
    local ts
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      ts = c:getoption("timestamps")
      c:close()
    end)
    sim:run(30000)
    assert.are.same({}, log)
    assert.is_nil(synack.options.ts)
    assert.is_nil(synack.options.sackok)
    assert.equal(0, ts)
  end)
end)

describe("shutdown(\"receive\") and shutdown(\"both\")", function()
  it("receive: reads end at once, later input is acknowledged and dropped, sending goes on", function()
    local sim, a, b, log = luasim.pair(10, { tcp_rcvbuf = 16384 })
    local sent, got_back
    luasim.serve(a, function(conn)
      sent = conn:send(string.rep("d", 300000))  -- far more than the client's window
      conn:shutdown("send")
      got_back = conn:receive("*a")
    end)
    local r
    luasim.client(b, function(c)
      assert(c:shutdown("receive"))
      r = { c:receive() }
      b.sleep(100)
      c:send("still sending")
      c:shutdown("send")
      b.sleep(2000)
    end)
    assert(sim:run(60000))
    assert.are.same({}, log)
    assert.are.same({ nil, "closed" }, { r[1], r[2] })
    assert.equal(300000, sent)             -- never stalled on a closed window
    assert.equal("still sending", got_back)
  end)

  it("both: FIN to the peer and reads closed", function()
    local sim, a, b, log = luasim.pair(11)
    local server_eof
    luasim.serve(a, function(conn) server_eof = { conn:receive("*a") }; conn:send("late") end)
    local r
    luasim.client(b, function(c)
      assert(c:shutdown("both"))
      r = { c:receive("*a") }
      b.sleep(500)
    end)
    assert(sim:run(30000))
    assert.are.same({}, log)
    assert.are.same({ "" }, server_eof)
    assert.are.same({ nil, "closed", "" }, r)
  end)
end)

-- Data segments (with payload) b sees from a, as payload lengths.
local function data_segments(b)
  local lens, times = {}, {}
  b.on_segment(function(seg, dir, _, now)
    if dir == "in" and seg.len > 0 then lens[#lens + 1] = seg.len; times[#lens] = now end
  end)
  return lens, times
end

describe("cork and send(data, { more = true })", function()
  it("cork holds small writes until uncorked, then sends them in one segment", function()
    local sim, a, b, log = luasim.pair(12)
    local lens = data_segments(b)
    local seen_while_corked
    luasim.serve(a, function(conn)
      assert(conn:setoption("nodelay", true))
      assert(conn:setoption("cork", true))
      assert.equal(1, conn:getoption("cork"))
      for _ = 1, 5 do conn:send("piece;"); a.sleep(10) end
      seen_while_corked = #lens
      assert(conn:setoption("cork", false))
    end)
    local got = luasim.fetch(sim, b)
    assert.are.same({}, log)
    assert.equal(string.rep("piece;", 5), got)
    assert.equal(0, seen_while_corked)
    assert.are.same({ 30 }, lens)
  end)

  it("more = true holds the piece until a send without it", function()
    local sim, a, b, log = luasim.pair(13)
    local lens = data_segments(b)
    luasim.serve(a, function(conn)
      conn:setoption("nodelay", true)
      conn:send("HTTP/1.1 200 OK\r\n", { more = true })
      a.sleep(50)
      conn:send("Content-Length: 2\r\n\r\n", { more = true })
      a.sleep(50)
      conn:send("ok")
    end)
    local got = luasim.fetch(sim, b)
    assert.are.same({}, log)
    assert.equal("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", got)
    assert.are.same({ #got }, lens)
  end)

  it("full segments still leave while corked", function()
    local sim, a, b, log = luasim.pair(14)
    local lens, times = data_segments(b)
    local t0
    luasim.serve(a, function(conn)
      conn:setoption("cork", true)
      t0 = a.now()
      conn:send(string.rep("x", 3100))
      a.sleep(100)
      conn:setoption("cork", false)
    end)
    local got = luasim.fetch(sim, b)
    assert.are.same({}, log)
    assert.equal(3100, #got)
    -- whole segments (MSS 1448) first; the 204-byte tail only after uncorking
    assert.equal(3100 % 1448, lens[#lens])
    assert.is_true(times[#lens] - t0 >= 100)
    for i = 1, #lens - 1 do
      assert.equal(0, lens[i] % 1448)
      assert.is_true(times[i] - t0 < 100)
    end
  end)
end)

describe("notsent_lowat", function()
  -- Bytes queued but not yet sent, sampled each time send returns.
  local function max_unsent(lowat)
    local sim, a, b, log = luasim.pair(15, { tcp_sndbuf = 262144 })
    sim:impair(nil, { rate_bps = 8000000 })   -- a slow link: the queue builds up
    local worst = 0
    local chunk = string.rep("n", 4096)
    luasim.serve(a, function(conn)
      if lowat then assert(conn:setoption("notsent_lowat", lowat)) end
      for _ = 1, 100 do
        assert(conn:send(chunk))
        local i = conn:info()
        worst = math.max(worst, i.sndbuf_used - i.unacked)
      end
    end)
    local got = luasim.fetch(sim, b)
    assert.are.same({}, log)
    assert.equal(409600, #got)
    return worst
  end

  it("is kept in whole KiB, rounded up, at most 2047 KiB", function()
    local sim, a, b, log = luasim.pair(16)
    local r
    luasim.serve(a, function(conn)
      assert(conn:setoption("notsent_lowat", 1000))
      r = { conn:getoption("notsent_lowat"), conn:setoption("notsent_lowat", 4 * 1024 * 1024) }
    end)
    luasim.fetch(sim, b)
    assert.are.same({}, log)
    assert.are.same({ 1024, nil, "invalid" }, { r[1], r[2], r[3] })
  end)

  it("a writer waits until fewer than notsent_lowat bytes are unsent", function()
    local without = max_unsent(nil)
    local with = max_unsent(16384)
    assert.is_true(with < 16384 + 4096, "unsent reached " .. with)
    assert.is_true(without > 4 * with, ("without %d, with %d"):format(without, with))
  end)
end)
