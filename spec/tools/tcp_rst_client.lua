-- A kernel TCP client that ends its connection with a RST (SO_LINGER 0),
-- for spec/tun/tcp_reset_spec.lua. Runs under LuaJIT inside the spec's
-- namespace (ip netns exec ... timeout N luajit ...).
--   luajit tcp_rst_client.lua ADDR PORT SEND_BYTES READ_BYTES
-- Connects, sends SEND_BYTES, reads READ_BYTES, then closes with linger 0
-- (RFC 9293 3.10.5 ABORT: the kernel sends RST and drops what is queued).
-- Prints "rst-client: sent=N read=M" and exits 0, or exits 1 with a reason.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local ks = require "ksock"
local ffi, C = ks.ffi, ks.C

local addr, port, send_bytes, read_bytes = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local function fail(what) ks.fail("rst-client", what) end
local fd = ks.connect("rst-client", addr, port)

local chunk = ffi.new("uint8_t[?]", 65536)
for i = 0, 65535 do chunk[i] = (i * 7 + 3) % 256 end
local sent = 0
while sent < send_bytes do
  local n = C.send(fd, chunk, math.min(65536, send_bytes - sent), ks.MSG_NOSIGNAL)
  if n <= 0 then fail("send") end
  sent = sent + tonumber(n)
end
local got = 0
while got < read_bytes do
  local n = C.recv(fd, chunk, math.min(65536, read_bytes - got), 0)
  if n <= 0 then fail("recv") end
  got = got + tonumber(n)
end

local lg = ffi.new("struct tlk_linger", 1, 0)
if C.setsockopt(fd, ks.SOL_SOCKET, ks.SO_LINGER, lg, ffi.sizeof(lg)) ~= 0 then fail("SO_LINGER") end
C.close(fd)
print(("rst-client: sent=%d read=%d"):format(sent, got))
