-- The stack's side of the loss interop ring (spec/tun/tcp_loss_interop_spec.lua,
-- scripts/loss-check): one process serves many sequential transfers, and
-- after each prints how the stack's counters moved during it, so a caller
-- can tell how the transfer recovered from loss (RTO or fast retransmit).
--   tcplua loss_peer.lua INFILE OUTDIR
-- port 19: every connection gets INFILE's bytes, then FIN; the stack waits
--          for the peer's close (so all its data was received) before
--          reporting. A peer that closes early ends it too.
-- port 20: every connection gets INFILE's bytes over and over until the
--          peer closes (a transfer bounded by the peer's time, not a size).
-- port 9:  every connection's bytes are written to OUTDIR/in-N (N counts
--          the port's connections from 1) until the peer's FIN.
-- After each connection one line:
--   done port=P n=N bytes=B err=E d_tcp_rto_expired=0 d_tcp_fast_retrans=1 ...
-- with a d_NAME=DELTA for every tcp_* and drop_tcp_* counter that moved while it ran
-- (the counters are the stack's, so run transfers one at a time).
local tcp = require "tcplua"

local infile, outdir = ...
assert(infile and outdir, "usage: loss_peer.lua INFILE OUTDIR")
local f = assert(io.open(infile, "rb"))
local data = f:read("*a")
f:close()

local function report(port, n, bytes, err, before)
  local after, moved = tcp.stats(), {}
  for k, v in pairs(after) do
    if (k:match("^tcp_") or k:match("^drop_tcp_")) and type(v) == "number" and v ~= (before[k] or 0) then
      moved[#moved + 1] = ("d_%s=%d"):format(k, v - (before[k] or 0))
    end
  end
  table.sort(moved)
  io.write(("done port=%d n=%d bytes=%d err=%s %s\n"):format(port, n, bytes, err or "none", table.concat(moved, " ")))
  io.stdout:flush()
end

local sent_n, recv_n, rep_n = 0, 0, 0

assert(tcp.listen(19, function(conn)
  sent_n = sent_n + 1
  local n, before = sent_n, tcp.stats()
  conn:settimeout(60000)
  local sent, err, partial = conn:send(data)
  if sent then conn:shutdown("send") end
  -- The peer's FIN (or RST) comes after it has read everything we sent.
  while true do
    local piece, e = conn:receiveany(65536)
    if not piece then
      if e ~= "closed" then err = err or e end
      break
    end
  end
  report(19, n, sent or partial or 0, err, before)
  conn:close()
end))

assert(tcp.listen(20, function(conn)
  rep_n = rep_n + 1
  local n, before = rep_n, tcp.stats()
  local peer_done, err, total = false, nil, 0
  tcp.spawn(function()
    while conn:receiveany(65536) do end
    peer_done = true
  end)
  while not peer_done do
    local sent, e, partial = conn:send(data)
    total = total + (sent or partial or 0)
    if not sent then err = e break end
  end
  report(20, n, total, err, before)
  conn:close()
end))

assert(tcp.listen(9, function(conn)
  recv_n = recv_n + 1
  local n, before = recv_n, tcp.stats()
  conn:settimeout(60000)
  local out = assert(io.open(("%s/in-%d"):format(outdir, n), "wb"))
  local bytes, err = 0, nil
  while true do
    local piece, e = conn:receiveany(1024 * 1024)
    if not piece then
      if e ~= "closed" then err = e end
      break
    end
    bytes = bytes + #piece
    out:write(piece)
  end
  out:close()
  report(9, n, bytes, err, before)
  conn:close()
end))
