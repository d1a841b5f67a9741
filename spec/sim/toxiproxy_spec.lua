-- tcplua.toxiproxy over the sim: the API's JSON bodies, status codes and
-- error bodies as toxiproxy's api.go gives them (server:handle, and raw
-- HTTP over a sim connection), and the toxics' effect on bytes and time
-- (virtual time: exact and fast). The proxy runs on stack a (10.0.0.1);
-- the upstream servers and the clients on stack b (10.0.0.2).
local luasim = require "helpers.luasim"
local cjson = require "cjson"
local toxiproxy = require "tcplua.toxiproxy"

local function setup(opts)
  local sim, a, b, log = luasim.pair(3)
  local server = toxiproxy.new(a, opts)
  -- echo on b:7; a source of 50000 bytes on b:8 (then FIN)
  assert(b.listen(7, function(c)
    while true do
      local d = c:receiveany(65536)
      if not d then return end
      c:send(d)
    end
  end))
  assert(b.listen(8, function(c) c:send(string.rep("s", 50000)) end))
  local function call(method, path, body, headers)
    local status, text, ctype = server:handle({ method = method, path = path, headers = headers or {}, body = body or "" })
    return status, text, ctype
  end
  return { sim = sim, a = a, b = b, log = log, server = server, call = call }
end

local function json(text) return cjson.decode(text) end

-- status and body of a call (not its content type)
local function sb(s, b) return { s, b } end

describe("tcplua.toxiproxy API", function()
  it("creates, lists, shows and deletes proxies with toxiproxy's bodies and codes", function()
    local t = setup()
    local s, body, ctype = t.call("GET", "/version")
    assert.same({ 200, '{"version": "2.12.0"}\n', "application/json;charset=utf-8" }, { s, body, ctype })
    s, body, ctype = t.call("POST", "/proxies", '{"name":"db","listen":"0.0.0.0:9000","upstream":"10.0.0.2:7"}')
    assert.equal(201, s)
    assert.equal("application/json", ctype)
    assert.equal('{"name":"db","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7","enabled":true,"toxics":[]}', body)
    assert.same({ 409, '{"error":"proxy already exists","status":409}\n' },
      sb(t.call("POST", "/proxies", '{"name":"db","listen":":9001","upstream":"x:1"}')))
    assert.same({ 400, '{"error":"missing required field: name","status":400}\n' },
      sb(t.call("POST", "/proxies", '{"upstream":"x:1"}')))
    assert.same({ 400, '{"error":"missing required field: upstream","status":400}\n' },
      sb(t.call("POST", "/proxies", '{"name":"x"}')))
    s, body = t.call("POST", "/proxies", "")
    assert.same({ 400, '{"error":"bad request body: EOF","status":400}\n' }, { s, body })
    s, body = t.call("POST", "/proxies", '{"name":5,"upstream":"x:1"}')
    assert.equal(400, s)
    assert.matches("bad request body: json: cannot unmarshal number 5 into Go struct field Proxy.name of type string",
      body, 1, true)
    s, body = t.call("POST", "/proxies", '{"name":"other","listen":"10.0.0.1:9000","upstream":"x:1"}')
    assert.same({ 500, '{"error":"listen tcp 10.0.0.1:9000: bind: address already in use","status":500}\n' }, { s, body })
    s, body = t.call("POST", "/proxies", '{"name":"off","listen":":0","upstream":"10.0.0.2:7","enabled":false}')
    assert.equal(201, s)
    assert.same({ name = "off", listen = ":0", upstream = "10.0.0.2:7", enabled = false, toxics = {} }, json(body))
    -- no listen: a free port, as Go's net.Listen("tcp", "")
    s, body = t.call("POST", "/proxies", '{"name":"any","upstream":"10.0.0.2:7"}')
    assert.equal(201, s)
    assert.matches("^10%.0%.0%.1:%d+$", json(body).listen)
    assert.same({ 204, "" }, sb(t.call("DELETE", "/proxies/any")))
    s, body = t.call("GET", "/proxies")
    assert.equal(200, s)
    local all = json(body)
    assert.same({ "db", "off" }, (function() local k = {} for n in pairs(all) do k[#k + 1] = n end table.sort(k) return k end)())
    assert.same({ 404, '{"error":"proxy not found","status":404}\n' }, sb(t.call("GET", "/proxies/nope")))
    assert.same({ 204, "" }, sb(t.call("DELETE", "/proxies/off")))
    assert.same({ 404, '{"error":"proxy not found","status":404}\n' }, sb(t.call("DELETE", "/proxies/off")))
    -- routes as gorilla/mux: wrong method 405 (empty), unknown path 404,
    -- browsers refused
    assert.same({ 405, "" }, sb(t.call("PUT", "/proxies")))
    assert.same({ 404, "404 page not found\n" }, sb(t.call("GET", "/proxies/db/extra/x")))
    assert.same({ 403, "User agent not allowed\n" },
      sb(t.call("GET", "/proxies", nil, { ["user-agent"] = "Mozilla/5.0" })))
    assert.same({}, t.log)
  end)

  it("adds, shows, updates and removes toxics with their defaults and errors", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    local s, body = t.call("POST", "/proxies/p/toxics", '{"type":"latency","attributes":{"latency":50}}')
    assert.equal(200, s)   -- (toxiproxy answers 200 here, not 201)
    assert.equal('{"attributes":{"latency":50,"jitter":0},"name":"latency_downstream","type":"latency",'
      .. '"stream":"downstream","toxicity":1}', body)
    assert.same({ 409, '{"error":"toxic already exists","status":409}\n' },
      sb(t.call("POST", "/proxies/p/toxics", '{"type":"latency"}')))
    assert.same({ 400, '{"error":"stream was invalid, can be either upstream or downstream","status":400}\n' },
      sb(t.call("POST", "/proxies/p/toxics", '{"type":"latency","stream":"sideways"}')))
    assert.same({ 400, '{"error":"invalid toxic type","status":400}\n' },
      sb(t.call("POST", "/proxies/p/toxics", '{"type":"meteor"}')))
    s, body = t.call("POST", "/proxies/p/toxics", '{"type":"bandwidth","attributes":{"rate":1.5}}')
    assert.equal(400, s)
    assert.matches("json: cannot unmarshal number 1.5 into Go struct field BandwidthToxic.attributes.rate of type int64",
      body, 1, true)
    local all = {
      { "bandwidth", { rate = 0 } }, { "slow_close", { delay = 0 } }, { "timeout", { timeout = 0 } },
      { "reset_peer", { timeout = 0 } }, { "slicer", { average_size = 0, size_variation = 0, delay = 0 } },
      { "limit_data", { bytes = 0 } },
    }
    for _, c in ipairs(all) do
      s, body = t.call("POST", "/proxies/p/toxics", ('{"type":"%s","stream":"upstream","toxicity":0}'):format(c[1]))
      assert.equal(200, s, body)
      assert.same({ attributes = c[2], name = c[1] .. "_upstream", type = c[1], stream = "upstream", toxicity = 0 },
        json(body))
    end
    -- update merges attributes, keeps toxicity unless given
    s, body = t.call("PATCH", "/proxies/p/toxics/latency_downstream", '{"attributes":{"jitter":5}}')
    assert.equal(200, s)
    assert.same({ latency = 50, jitter = 5 }, json(body).attributes)
    assert.equal(1, json(body).toxicity)
    s, body = t.call("POST", "/proxies/p/toxics/latency_downstream", '{"toxicity":0.25}')
    assert.equal(0.25, json(body).toxicity)
    assert.same({ 404, '{"error":"toxic not found","status":404}\n' },
      sb(t.call("POST", "/proxies/p/toxics/nope", '{}')))
    s, body = t.call("GET", "/proxies/p/toxics")
    local list = json(body)
    assert.equal(7, #list)
    assert.equal("upstream", list[1].stream)     -- the upstream chain first
    assert.equal("latency_downstream", list[7].name)
    assert.same({ 200 }, { (t.call("GET", "/proxies/p/toxics/slicer_upstream")) })
    assert.same({ 204, "" }, sb(t.call("DELETE", "/proxies/p/toxics/slicer_upstream")))
    assert.same({ 404, '{"error":"toxic not found","status":404}\n' },
      sb(t.call("DELETE", "/proxies/p/toxics/slicer_upstream")))
    -- /reset: every toxic gone, disabled proxies enabled again
    assert.equal(200, (t.call("POST", "/proxies/p", '{"enabled":false}')))
    assert.same({ 204, "" }, sb(t.call("POST", "/reset")))
    s, body = t.call("GET", "/proxies/p")
    assert.same({ name = "p", listen = "10.0.0.1:9000", upstream = "10.0.0.2:7", enabled = true, toxics = {} },
      json(body))
    assert.same({}, t.log)
  end)

  it("populates: creates, keeps an unchanged proxy, replaces a changed one, checks every entry first", function()
    local t = setup()
    local s, body = t.call("POST", "/populate",
      '[{"name":"a","listen":"10.0.0.1:9100","upstream":"10.0.0.2:7"},{"name":"b","listen":":9101","upstream":"10.0.0.2:8"}]')
    assert.equal(201, s)
    local r = json(body)
    assert.equal(2, #r.proxies)
    assert.same({ "a", "10.0.0.1:9100", true }, { r.proxies[1].name, r.proxies[1].listen, r.proxies[1].enabled })
    assert.equal(200, (t.call("POST", "/proxies/a/toxics", '{"type":"latency"}')))
    s, body = t.call("POST", "/populate",
      '[{"name":"a","listen":"10.0.0.1:9100","upstream":"10.0.0.2:7"},{"name":"b","listen":":9101","upstream":"10.0.0.2:7"}]')
    assert.equal(201, s)
    r = json(body)
    assert.equal(1, #r.proxies[1].toxics)   -- a kept, with its toxic
    assert.equal("10.0.0.2:7", r.proxies[2].upstream)
    assert.same({ 400, '{"error":"missing required field: name at proxy 2","status":400}\n' },
      sb(t.call("POST", "/populate", '[{"name":"c","upstream":"x:1"},{"upstream":"x:1"}]')))
    assert.is_nil(json(select(2, t.call("GET", "/proxies"))).c)
    assert.same({}, t.log)
  end)

  it("the tcplua toxic takes fault primitives; Lua source only when allowed", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    local s, body = t.call("POST", "/proxies/p/toxics",
      '{"type":"tcplua","name":"l","attributes":{"policy":"loss","args":[0.1],"when":{"flags":"P"}}}')
    assert.equal(200, s, body)
    assert.same({ policy = "loss", args = { 0.1 }, when = { flags = "P" }, side = "client" }, json(body).attributes)
    s, body = t.call("POST", "/proxies/p/toxics", '{"type":"tcplua","name":"x","attributes":{"policy":"compose"}}')
    assert.equal(400, s)
    assert.matches("not a tcplua.fault primitive: compose", body, 1, true)
    s, body = t.call("POST", "/proxies/p/toxics", '{"type":"tcplua","name":"y","attributes":{"policy":"loss","args":[7]}}')
    assert.equal(400, s)
    s, body = t.call("POST", "/proxies/p/toxics", '{"type":"tcplua","name":"z","attributes":{"lua":"return fault.loss(1)"}}')
    assert.equal(400, s)
    assert.matches("Lua source is not allowed", body, 1, true)
    local t2 = setup({ allow_lua = true })
    assert.equal(201, t2.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    s, body = t2.call("POST", "/proxies/p/toxics", '{"type":"tcplua","name":"z","attributes":{"lua":"return fault.loss(1)"}}')
    assert.equal(200, s, body)
    s, body = t2.call("POST", "/proxies/p/toxics", '{"type":"tcplua","name":"w","attributes":{"lua":"return 42"}}')
    assert.equal(400, s)
    assert.matches("must give a function", body, 1, true)
  end)

  -- RFC 9112 7.1: each piece as a chunk, then the last chunk.
  local function chunked(...)
    local out = {}
    for _, piece in ipairs({ ... }) do out[#out + 1] = ("%x\r\n%s\r\n"):format(#piece, piece) end
    return table.concat(out) .. "0\r\n\r\n"
  end

  it("serves HTTP/1.1: keep-alive, chunked bodies, Connection: close", function()
    local t = setup()
    assert(t.server:listen(8474))
    local got
    t.b.spawn(function()
      local c = assert(t.b.connect("10.0.0.1", 8474))
      c:send("GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
        .. "POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        .. chunked('{"name":"p","li', 'sten":":9000","upstream":"10.0.0.2:7"}')
        .. "GET /proxies/p HTTP/1.1\r\nConnection: close\r\n\r\n")
      got = c:receive("*a")
    end)
    t.sim:run(10000)
    assert.is_string(got)
    local statuses = {}
    for st in got:gmatch("HTTP/1%.1 (%d+)") do statuses[#statuses + 1] = tonumber(st) end
    assert.same({ 200, 201, 200 }, statuses, got)
    assert.matches('Content%-Length: 22\r\n', got)
    assert.matches('Connection: close\r\n\r\n{"name":"p","listen":"10.0.0.1:9000"', got)
    assert.same({}, t.log)
  end)

  it("answers 100 Continue when asked, 400 to a malformed request (then closes)", function()
    local t = setup()
    assert(t.server:listen(8474))
    local got = {}
    t.b.spawn(function()
      local c = assert(t.b.connect("10.0.0.1", 8474))
      local body = '{"name":"p","listen":":9000","upstream":"10.0.0.2:7"}'
      c:send("POST /proxies HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: " .. #body .. "\r\n\r\n")
      got.continue = c:receive()
      c:receive()
      c:send(body)
      got.status = c:receive()
      c:close()
      c = assert(t.b.connect("10.0.0.1", 8474))
      c:send("BREW /pot HTCPCP/1.0\r\n\r\n")
      got.bad = c:receive("*a")
    end)
    t.sim:run(10000)
    assert.equal("HTTP/1.1 100 Continue", got.continue)
    assert.equal("HTTP/1.1 201 Created", got.status)
    assert.matches("^HTTP/1.1 400 Bad Request\r\n.*Connection: close\r\n", got.bad)
    assert.same({}, t.log)
  end)
end)

-- A client on b through proxy port 9000: sends each of `lines` and reads
-- its echo; returns the round trip of each (virtual ms).
local function round_trips(t, n, between)
  local rtts = {}
  t.b.spawn(function()
    local c = assert(t.b.connect("10.0.0.1", 9000))
    for i = 1, n do
      if between then between(i) end
      local t0 = t.b.now()
      c:send("ping " .. i .. "\n")
      assert.equal("ping " .. i, c:receive())
      rtts[i] = t.b.now() - t0
    end
    c:close()
  end)
  t.sim:run(60000)
  return rtts
end

describe("tcplua.toxiproxy toxics (sim)", function()
  it("latency added, updated and removed while the connection is open", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    local rtts = round_trips(t, 4, function(i)
      if i == 2 then t.call("POST", "/proxies/p/toxics", '{"type":"latency","attributes":{"latency":100}}') end
      if i == 3 then t.call("POST", "/proxies/p/toxics/latency_downstream", '{"attributes":{"latency":250}}') end
      if i == 4 then t.call("DELETE", "/proxies/p/toxics/latency_downstream") end
    end)
    assert.is_true(rtts[1] < 50, rtts[1])
    assert.is_true(rtts[2] >= 100 and rtts[2] < 150, rtts[2])
    assert.is_true(rtts[3] >= 250 and rtts[3] < 300, rtts[3])
    assert.is_true(rtts[4] < 50, rtts[4])
    assert.same({}, t.log)
  end)

  it("the tcplua toxic delays segments on either side, in its stream's direction only, per its coin", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    local body = '{"type":"tcplua","name":"%s","stream":"%s","toxicity":%s,'
      .. '"attributes":{"policy":"delay","args":[%d],"side":"%s","when":{"flags":"P"}}}'
    local rtts = round_trips(t, 5, function(i)
      if i == 2 then t.call("POST", "/proxies/p/toxics", body:format("c", "downstream", 1, 200, "client")) end
      if i == 3 then
        t.call("DELETE", "/proxies/p/toxics/c")
        t.call("POST", "/proxies/p/toxics", body:format("u", "upstream", 1, 300, "upstream"))
      end
      if i == 4 then t.call("POST", "/proxies/p/toxics/u", '{"toxicity":0}') end
      if i == 5 then t.call("POST", "/proxies/p/toxics/u", '{"toxicity":1}') end
    end)
    assert.is_true(rtts[1] < 50, rtts[1])
    assert.is_true(rtts[2] >= 200 and rtts[2] < 250, rtts[2])
    assert.is_true(rtts[3] >= 300 and rtts[3] < 350, rtts[3])
    assert.is_true(rtts[4] < 50, rtts[4])     -- toxicity 0: the coin says no
    assert.is_true(rtts[5] >= 300, rtts[5])
    assert.same({}, t.log)
  end)

  it("bandwidth, limit_data and reset_peer on a source", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"s","listen":"10.0.0.1:9000","upstream":"10.0.0.2:8"}'))
    local function fetch()
      local r = {}
      t.b.spawn(function()
        local c = assert(t.b.connect("10.0.0.1", 9000))
        local t0 = t.b.now()
        c:send("go")
        r.data, r.err, r.partial = c:receive("*a")
        r.ms = t.b.now() - t0
      end)
      t.sim:run(60000)
      return r
    end
    t.call("POST", "/proxies/s/toxics", '{"type":"bandwidth","attributes":{"rate":10}}')
    local r = fetch()
    assert.equal(50000, r.data and #r.data)
    assert.is_true(r.ms >= 5000, r.ms)   -- 50 KB at 10 KB/s
    t.call("DELETE", "/proxies/s/toxics/bandwidth_downstream")
    t.call("POST", "/proxies/s/toxics", '{"type":"limit_data","attributes":{"bytes":1234}}')
    r = fetch()
    assert.equal(1234, r.data and #r.data)
    -- reset_peer through an echo: the first bytes start the clock
    assert.equal(201, t.call("POST", "/proxies", '{"name":"e","listen":"10.0.0.1:9001","upstream":"10.0.0.2:7"}'))
    t.call("POST", "/proxies/e/toxics", '{"type":"reset_peer","stream":"upstream","attributes":{"timeout":300}}')
    r = {}
    t.b.spawn(function()
      local c = assert(t.b.connect("10.0.0.1", 9001))
      local t0 = t.b.now()
      c:send("go\n")
      r.data, r.err = c:receive("*a")
      r.ms = t.b.now() - t0
    end)
    t.sim:run(60000)
    assert.same({ nil, "reset" }, { r.data, r.err })
    assert.is_true(r.ms >= 300, r.ms)
    assert.same({}, t.log)
  end)

  it("timeout drops the data and closes after the timeout; disabling closes open connections", function()
    local t = setup()
    assert.equal(201, t.call("POST", "/proxies", '{"name":"p","listen":"10.0.0.1:9000","upstream":"10.0.0.2:7"}'))
    t.call("POST", "/proxies/p/toxics", '{"type":"timeout","attributes":{"timeout":700}}')
    local r = {}
    t.b.spawn(function()
      local c = assert(t.b.connect("10.0.0.1", 9000))
      local t0 = t.b.now()
      c:send("hello\n")
      r.data, r.err, r.partial = c:receive("*a")
      r.ms = t.b.now() - t0
    end)
    t.sim:run(60000)
    assert.same({ "", 700 }, { r.data, math.floor(r.ms / 100) * 100 })
    t.call("POST", "/reset")
    local r2 = {}
    t.b.spawn(function()
      local c = assert(t.b.connect("10.0.0.1", 9000))
      c:send("a\n")
      r2.first = c:receive()
      t.b.sleep(50)
      t.call("POST", "/proxies/p", '{"enabled":false}')
      r2.data, r2.err = c:receive()
      r2.again = { t.b.connect("10.0.0.1", 9000) }
    end)
    t.sim:run(60000)
    assert.equal("a", r2.first)
    assert.same({ nil, "closed" }, { r2.data, r2.err })
    assert.same({ nil, "refused" }, r2.again)
    assert.same({}, t.log)
  end)
end)
