-- receiveuntil (OpenResty's iterator), peek and the line-length limit of
-- receive("*l"), over the sim.
local luasim = require "helpers.luasim"

-- Runs server body on a, client body on b (after the cue byte); returns log.
local function pair(serve, client, cfg)
  local sim, a, b, log = luasim.pair(3, cfg)
  luasim.serve(a, serve)
  local done
  luasim.client(b, function(c) client(c, b); done = true end)
  assert(sim:run_until(function() return done end, 60000), "client did not finish")
  sim:run(30000)
  return log
end

local STREAM = "hello, world! -agentzh\r\n--abcedhb blah blah"

describe("conn:receiveuntil", function()
  it("without a size returns what precedes the pattern and leaves what follows", function()
    local got
    local log = pair(function(conn) conn:send(STREAM) end, function(c)
      local r = c:receiveuntil("\r\n--abcedhb")
      got = { r() }
      got[#got + 1] = c:receive("*a")
    end)
    assert.are.same({}, log)
    assert.are.same({ "hello, world! -agentzh", " blah blah" }, got)
  end)

  it("with a size streams chunks, then nil, nil, then starts afresh", function()
    local chunks = {}
    local log = pair(function(conn) conn:send(STREAM .. "\r\n--abcedhbtail") end, function(c)
      local r = c:receiveuntil("\r\n--abcedhb")
      for _ = 1, 2 do
        while true do
          local data, err = r(4)
          if not data then chunks[#chunks + 1] = err or "done"; break end
          chunks[#chunks + 1] = data
        end
      end
      chunks[#chunks + 1] = c:receive("*a")
    end)
    assert.are.same({}, log)
    assert.are.same({ "hell", "o, w", "orld", "! -a", "gent", "zh", "done",
      " bla", "h bl", "ah", "done", "tail" }, chunks)
  end)

  it("inclusive keeps the pattern at the end of the data, in both modes", function()
    local got
    local log = pair(function(conn) conn:send("a=1;b=22;") end, function(c)
      local r = c:receiveuntil(";", { inclusive = true })
      got = { r() }
      local t = {}
      while true do
        local d, err = r(2)
        if not d then t[#t + 1] = err or "done"; break end
        t[#t + 1] = d
      end
      got[2] = t
    end)
    assert.are.same({}, log)
    assert.are.same({ "a=1;", { "b=", "22;", "done" } }, got)
  end)

  it("streams a multipart body whose parts are larger than the receive buffer, byte-exact", function()
    local boundary = "\r\n--XyZ0123boundary"
    local parts = {}
    local x = 7
    for i = 1, 3 do
      local t = {}
      for j = 1, 40000 * i do
        x = (x * 1103515245 + 12345) % 2147483648
        t[j] = string.char(x % 251)   -- never all of the boundary
      end
      parts[i] = table.concat(t)
    end
    local body = "preamble" .. boundary .. "\r\n" .. parts[1] .. boundary .. "\r\n" .. parts[2]
      .. boundary .. "\r\n" .. parts[3] .. boundary .. "--\r\n"
    local got, maxchunk = {}, 0
    local log = pair(function(conn) conn:send(body) end, function(c)
      local r = c:receiveuntil(boundary)
      assert.equal("preamble", r())
      for i = 1, 3 do
        assert.equal("\r\n", c:receive(2))
        local t = {}
        while true do
          local data, err = r(8192)
          if not data then assert.is_nil(err); break end
          maxchunk = math.max(maxchunk, #data)
          t[#t + 1] = data
        end
        got[i] = table.concat(t)
      end
      assert.equal("--", c:receive(2))
    end, { tcp_rcvbuf = 16384 })
    assert.are.same({}, log)
    for i = 1, 3 do assert.equal(#parts[i], #got[i]); assert.is_true(parts[i] == got[i]) end
    assert.is_true(maxchunk <= 8192)
  end)

  it("finds a pattern split across segments (sent in pieces)", function()
    local got
    local sim, a, b, log = luasim.pair(4)
    luasim.serve(a, function(conn)
      conn:setoption("nodelay", true)
      for _, p in ipairs({ "abc--b", "o", "und", "ary-rest" }) do conn:send(p); a.sleep(20) end
    end)
    luasim.client(b, function(c)
      got = { c:receiveuntil("--boundary")(), c:receive("*a") }
    end)
    assert(sim:run(30000))
    assert.are.same({}, log)
    assert.are.same({ "abc", "-rest" }, got)
  end)

  it("returns nil, \"closed\" and the partial data when the stream ends first", function()
    local got
    local log = pair(function(conn) conn:send("no pattern here") end, function(c)
      got = { c:receiveuntil("\r\n\r\n")() }
    end)
    assert.are.same({}, log)
    assert.are.same({ nil, "closed", "no pattern here" }, got)
  end)

  it("times out with nil, \"timeout\", keeping a possible start of the pattern", function()
    local got
    local log = pair(function(conn) conn:send("abcde\r\n"); conn:receive(1) end, function(c)
      c:settimeout(100)
      got = { c:receiveuntil("\r\n\r\n")() }
      got[4] = c:peek(2)
      c:send("x")
    end)
    assert.are.same({}, log)
    assert.are.same({ nil, "timeout", "abcde", "\r\n" }, got)
  end)
end)

describe("conn:peek", function()
  it("returns bytes without consuming them", function()
    local got
    local log = pair(function(conn) conn:send("GET / HTTP/1.0\r\n") end, function(c)
      got = { c:peek(3), c:peek(), c:receive() }
    end)
    assert.are.same({}, log)
    assert.are.same({ "GET", "GET / HTTP/1.0\r\n", "GET / HTTP/1.0" }, got)
  end)

  it("waits for n bytes, and gives nil, \"closed\", partial if the peer ends first", function()
    local got
    local log = pair(function(conn, a)
      conn:send("ab"); conn:setoption("nodelay", true)
    end, function(c)
      got = { c:peek(5) }
      got[4] = c:receive("*a")
    end)
    assert.are.same({}, log)
    assert.are.same({ nil, "closed", "ab", "ab" }, got)
  end)

  it("refuses more than the receive buffer can hold", function()
    local e
    local log = pair(function() end, function(c)
      e = select(2, pcall(c.peek, c, 10 ^ 9))
    end)
    assert.are.same({}, log)
    assert.matches("receive buffer", e)
  end)
end)

describe("receive(\"*l\") line limit", function()
  it("returns nil, \"line too long\" and the first max_line bytes, then goes on", function()
    local got
    local log = pair(function(conn) conn:send(string.rep("x", 70000) .. "\nshort\n") end, function(c)
      got = { c:receive() }
      got[3] = #got[3]
      local rest = c:receive()
      got[4] = #rest
      got[5] = c:receive()
    end, { tcp_rcvbuf = 262144 })
    assert.are.same({}, log)
    assert.are.same({ nil, "line too long", 65536, 70000 - 65536, "short" }, got)
  end)

  it("applies max_line from setoption, listen and connect options; CR LF not counted", function()
    local sim, a, b, log = luasim.pair(5)
    local srv_got
    assert(a.listen(7, function(conn)
      local l1 = conn:receive()
      local l2, e2, p2 = conn:receive()
      srv_got = { conn:getoption("max_line"), l1, l2, e2, p2, conn:receive() }
      conn:send("0123456789\r\n")
    end, { max_line = 10 }))
    local got
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7, { max_line = 8 }))
      c:send("0123456789\r\n0123456789A\n")
      local max1 = c:getoption("max_line")
      local l, e, p = c:receive()
      assert(c:setoption("max_line", 10))
      got = { max1, l, e, p, c:receive(), c:getoption("max_line") }
    end)
    assert(sim:run(30000))
    assert.are.same({}, log)
    -- 10 bytes + CR LF fit a limit of 10; 11 do not (the 11th stays)
    assert.are.same({ 10, "0123456789", nil, "line too long", "0123456789", "A" }, srv_got)
    assert.are.same({ 8, nil, "line too long", "01234567", "89", 10 }, got)
  end)

  it("rejects a bad max_line", function()
    local sim, a = luasim.pair(6)
    local srv, err = a.listen(7, function() end, { max_line = 0 })
    assert.is_nil(srv)
    assert.matches("max_line", err)
    local _ = sim
  end)

  it("a 4 MB line without a newline is refused once past the limit, not buffered whole", function()
    local got
    local log = pair(function(conn) conn:send(string.rep("y", 4 * 1024 * 1024)) end, function(c)
      got = { c:receive() }
      got[3] = #got[3]
      c:abort()
    end)
    assert.are.same({ nil, "line too long", 65536 }, got)
    local _ = log
  end)
end)
