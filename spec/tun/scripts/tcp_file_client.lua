-- The stack as a client, for spec/tun/tcp_transfer_spec.lua: connects to
-- HOST PORT, sends the whole of INFILE while a second coroutine writes
-- everything that comes back to OUTFILE ("-" discards it), half-closes,
-- reads until the server closes, prints one result line and stops.
--   tcplua tcp_file_client.lua HOST PORT INFILE OUTFILE
-- Result line: "client: sent=N received=M err=WORD" (err=none on success).
local tcp = require "tcplua"

local host, port, infile, outfile = ...
port = tonumber(port)
local CHUNK = 65536

local function finish(sent, received, err)
  io.write(("client: sent=%d received=%d err=%s\n"):format(sent, received, err or "none"))
  io.stdout:flush()
  tcp.stop()
end

tcp.spawn(function()
  local f = assert(io.open(infile, "rb"))
  local data = f:read("*a")
  f:close()
  local out = outfile ~= "-" and assert(io.open(outfile, "wb")) or nil
  -- The spec starts the kernel's server once the TUN is up, which may be
  -- after this runs: retry a refused connect for up to 10 s.
  local conn, err
  for _ = 1, 200 do
    conn, err = tcp.connect(host, port, { timeout = 5000 })
    if conn or err ~= "refused" then break end
    tcp.sleep(50)
  end
  if not conn then return finish(0, 0, "connect-" .. tostring(err)) end
  conn:settimeout(30000)

  local sent, send_err, send_done = 0, nil, false
  tcp.spawn(function()
    local off = 1
    while off <= #data do
      local n, e = conn:send(data:sub(off, off + CHUNK - 1))
      if not n then send_err = "send-" .. tostring(e) break end
      sent = sent + n
      off = off + n
    end
    if not send_err then conn:shutdown("send") end
    send_done = true
  end)

  local received, recv_err = 0, nil
  while true do
    local piece, e = conn:receiveany(CHUNK)
    if not piece then
      if e ~= "closed" then recv_err = "receive-" .. tostring(e) end
      break
    end
    received = received + #piece
    if out then out:write(piece) end
  end
  if out then out:close() end
  -- The server may close before our sender is done only on error; wait for
  -- the sender to notice, bounded by its own send timeout.
  while not send_done do tcp.sleep(10) end
  conn:close()
  finish(sent, received, send_err or recv_err)
end)
