-- Coroutine sockets: conn:close() while the peer is still sending lingers
-- (RFC 9293 3.10.4: a close with unread input would reset the connection
-- and could cut the reply short); conn:abort() still resets.
local luasim = require "helpers.luasim"
local socket = require "tcplua.socket"
local function setup() return luasim.pair(5, { tcp_sndbuf = 16384, tcp_rcvbuf = 16384 }) end

describe("coroutine close with the peer still sending", function()
  it("delivers the whole reply, then FIN, although input is unread and still arriving", function()
    local sim, a, b, log = setup()
    local reply = string.rep("r", 200000)
    luasim.serve(a, function(conn)
      conn:send(reply)            -- more than the send buffer: some is still queued
      assert(conn:close())
    end)
    local got, sent_all
    luasim.client(b, function(c)
      local sender = b.spawn(function()  -- keeps sending long after the server closed
        for _ = 1, 50 do
          if not c:send(string.rep("x", 1000)) then break end
          b.sleep(5)
        end
        sent_all = true
        c:shutdown("send")
      end)
      got = { c:receive("*a") }
      b.wait(sender)              -- a coroutine's threads die with it
    end, { cue = false })
    assert.is_true(sim:run_until(function() return got ~= nil and sent_all end, 30000))
    assert.are.same({}, log)
    assert.are.equal(#reply, #(got[1] or ""), tostring(got[2]))
    assert.is_nil(got[2])
    -- The server released its handle once the client's FIN came.
    sim:run(30000)
    assert.are.equal(0, socket.lingering(a._runtime))
  end)

  it("gives up lingering 5 s after its FIN when the peer never sends one", function()
    local sim, a, b, log = setup()
    local closed_at
    luasim.serve(a, function(conn)
      assert(conn:close())
      closed_at = a.now()
    end)
    local eof
    luasim.client(b, function(c)
      c:send("more, unread")
      eof = { c:receive("*a") }   -- the server's FIN; this side never closes
      b.sleep(20000)              -- (ending the coroutine would close c)
    end)
    assert.is_true(sim:run_until(function() return eof ~= nil end, 10000))
    assert.are.same({ "" }, eof)      -- FIN, not RST
    local rt = a._runtime
    local function lingering() return socket.lingering(rt) > 0 end
    assert.is_true(lingering())
    assert.is_true(sim:run_until(function() return not lingering() end, 10000))
    local waited = a.now() - closed_at
    assert.is_true(waited >= 5000 and waited < 5100, "released after " .. waited .. " ms")
    assert.are.same({}, log)
  end)

  it("abort still resets at once", function()
    local sim, a, b, log = setup()
    luasim.serve(a, function(conn) assert(conn:abort()) end)
    local got = { luasim.fetch(sim, b, { limit = 10000 }) }
    assert.are.same({}, log)
    assert.are.same({ nil, "reset", "" }, got)
  end)
end)
