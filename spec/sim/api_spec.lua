-- The examples, run unchanged in a sim runtime: each example file is loaded
-- with `require "tcplua"` bound to a sim stack, its output captured.

-- Loads examples/<name>.lua on runtime api with script arguments ...;
-- returns the captured output lines.
local function load_example(name, api, ...)
  local out = {}
  local function capture(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
    out[#out + 1] = table.concat(t, "\t")
  end
  local fake_io = setmetatable({
    write = function(...) out[#out + 1] = table.concat({ ... }) end,
    stdout = { write = function(_, ...) out[#out + 1] = table.concat({ ... }) end, flush = function() end },
    stderr = { write = function(_, ...) out[#out + 1] = "stderr: " .. table.concat({ ... }) end },
  }, { __index = io })
  local env = setmetatable({
    print = capture,
    io = fake_io,
    require = function(m) if m == "tcplua" then return api end return require(m) end,
  }, { __index = _G })
  local chunk = assert(loadfile("examples/" .. name .. ".lua"))
  setfenv(chunk, env)
  chunk(...)
  return out
end

local function setup() return require("helpers.luasim").pair(2) end

-- Reads one HTTP response: status, headers, body (nil for HEAD).
local function read_response(c, is_head)
  local line, err = c:receive()
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/1%.1 (%d%d%d) "))
  local headers = {}
  while true do
    local h = assert(c:receive())
    if h == "" then break end
    local k, v = h:match("^([^:]+):%s*(.*)$")
    headers[k:lower()] = v
  end
  local body
  if not is_head then body = c:receive(tonumber(headers["content-length"])) end
  return status, headers, body
end

describe("examples in the sim", function()
  it("echo.lua announces itself and echoes lines", function()
    local sim, a, b, log = setup()
    local out = load_example("echo", a)
    assert.are.equal("echo server on 10.0.0.1:7 (TCP and UDP) -- try: nc 10.0.0.1 7", out[1])
    local got = {}
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 7))
      for i = 1, 3 do
        c:send("hello " .. i .. "\n")
        got[i] = c:receive()
      end
    end)
    sim:run(10000)
    assert.are.same({ "hello 1", "hello 2", "hello 3" }, got)
    assert.are.same({}, log)
  end)

  it("discard.lua reads everything and reports the byte count", function()
    local sim, a, b, log = setup()
    local out = load_example("discard", a)
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 9))
      c:send(string.rep("d", 300000))
    end)
    sim:run(10000)
    assert.are.same({}, log)
    assert.matches("^discard: 10%.0%.0%.2:%d+ sent 300000 bytes", out[2])
  end)

  it("source.lua sends exactly N bytes of chargen lines when given N", function()
    local sim, a, b, log = setup()
    load_example("source", a, "200000")
    local data
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 19))
      data = c:receive("*a")
    end)
    sim:run(10000)
    assert.are.same({}, log)
    assert.are.equal(200000, #data)
    -- RFC 864: line k holds 72 printable characters starting one further on.
    local printable = {}
    for ch = 32, 126 do printable[#printable + 1] = string.char(ch) end
    printable = table.concat(printable)
    local k = 0
    for line in data:sub(1, 74 * 100):gmatch("([^\r]*)\r\n") do
      local from = k % #printable
      assert.are.equal((printable .. printable):sub(from + 1, from + 72), line)
      k = k + 1
    end
    assert.are.equal(100, k)
  end)

  it("source.lua without N sends until the peer closes", function()
    local sim, a, b, log = setup()
    load_example("source", a)
    local total = 0
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 19))
      while total < 500000 do total = total + #assert(c:receiveany(65536)) end
      c:close()
    end)
    sim:run(60000)
    assert.are.same({}, log)
    assert.is_true(total >= 500000)
    -- the server's handler has finished: nothing alive on either side
    assert.is_true(a._runtime:idle())
  end)

  it("http.lua serves /, /bytes/N, HEAD and 404 over one keep-alive connection", function()
    local sim, a, b, log = setup()
    load_example("http", a)
    local r = {}
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 8080))
      c:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
      r.page = { read_response(c) }
      c:send("GET /bytes/100000 HTTP/1.1\r\nHost: x\r\n\r\n")
      r.bytes = { read_response(c) }
      c:send("HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n")
      r.head = { read_response(c, true) }
      c:send("POST /nope HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")
      r.post = { read_response(c) }
      c:send("GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
      r.missing = { read_response(c) }
      r.after = { c:receive() }
    end)
    sim:run(20000)
    assert.are.same({}, log)
    assert.are.equal(200, r.page[1])
    assert.matches("text/html", r.page[2]["content-type"])
    assert.matches("Hello from tcplua", r.page[3])
    assert.are.equal(#r.page[3], tonumber(r.page[2]["content-length"]))
    assert.is_nil(r.page[2].connection)
    assert.are.equal(200, r.bytes[1])
    assert.are.equal(string.rep("x", 100000), r.bytes[3])
    assert.are.equal(200, r.head[1])
    assert.are.equal("5", r.head[2]["content-length"])
    assert.are.equal(405, r.post[1])
    assert.are.equal(404, r.missing[1])
    assert.are.equal("close", r.missing[2].connection)
    assert.are.same({ nil, "closed", "" }, r.after)
  end)

  it("http.lua closes after an HTTP/1.0 response", function()
    local sim, a, b, log = setup()
    load_example("http", a)
    local status, rest
    b.spawn(function()
      local c = assert(b.connect("10.0.0.1", 8080))
      c:send("GET / HTTP/1.0\r\n\r\n")
      status = read_response(c)
      rest = { c:receive("*a") }
    end)
    sim:run(10000)
    assert.are.same({}, log)
    assert.are.equal(200, status)
    assert.are.same({ "" }, rest)
  end)

  it("client.lua connects, prints the reply and stops", function()
    local sim, a, b, log = setup()
    load_example("echo", a)
    local out = load_example("client", b, "10.0.0.1", "7", "hi there")
    assert.is_true(sim:run(10000))
    assert.are.same({}, log)
    assert.are.equal("hi there\n", table.concat(out))
    assert.is_true(b._runtime.stopped)
  end)

  it("client.lua reports a refused connection", function()
    local sim, _, b, log = setup()
    local out = load_example("client", b, "10.0.0.1", "7")
    sim:run(10000)
    assert.are.same({}, log)
    assert.matches("stderr: client: connect to 10.0.0.1:7 failed: refused", out[1])
  end)
end)
