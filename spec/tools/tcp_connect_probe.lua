-- A kernel TCP client that times its connect, for spec/tun/syn_flood_spec.lua.
-- Runs under LuaJIT inside the spec's namespace (ip netns exec ... timeout
-- N luajit ...).
--   luajit tcp_connect_probe.lua ADDR PORT
-- Connects (blocking), sends one line, reads it back from the echo server,
-- and prints "probe: connect_ms=X echo=ok" (exit 0), or exits 1 with a
-- reason. The time is reported, not judged: the spec checks the kernel's
-- SYN retransmission counter instead.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
local ks = require "ksock"
local ffi, C = ks.ffi, ks.C

local addr, port = arg[1], tonumber(arg[2])
local function fail(what) ks.fail("probe", what) end
local fd, connect_ms = ks.connect("probe", addr, port)

local line = "probe line\n"
if C.send(fd, line, #line, ks.MSG_NOSIGNAL) ~= #line then fail("send") end
local buf = ffi.new("uint8_t[64]")
local got = ""
while #got < #line do
  local n = C.recv(fd, buf, 64, 0)
  if n <= 0 then fail("recv") end
  got = got .. ffi.string(buf, n)
end
C.close(fd)
if got ~= line then
  io.stderr:write("probe: echo mismatch: ", got, "\n")
  os.exit(1)
end
print(("probe: connect_ms=%.2f echo=ok"):format(connect_ms))
