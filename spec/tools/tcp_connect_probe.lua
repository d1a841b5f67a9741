-- A kernel TCP client that times its connect, for spec/tun/syn_flood_spec.lua.
-- Runs under LuaJIT inside the spec's namespace (ip netns exec ... timeout
-- N luajit ...).
--   luajit tcp_connect_probe.lua ADDR PORT
-- Connects (blocking), sends one line, reads it back from the echo server,
-- and prints "probe: connect_ms=X echo=ok" (exit 0), or exits 1 with a
-- reason. The time is reported, not judged: the spec checks the kernel's
-- SYN retransmission counter instead.
local ffi = require "ffi"

ffi.cdef [[
struct tlp_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
struct tlp_timeval { long sec; long usec; };
struct tlp_timespec { long sec; long nsec; };
int socket(int domain, int type, int protocol);
int connect(int fd, const void *addr, unsigned int len);
int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
long send(int fd, const void *buf, size_t len, int flags);
long recv(int fd, void *buf, size_t len, int flags);
int close(int fd);
int inet_pton(int af, const char *src, void *dst);
int clock_gettime(int clk, struct tlp_timespec *ts);
char *strerror(int errnum);
]]
local C = ffi.C
local AF_INET, SOCK_STREAM, SOL_SOCKET = 2, 1, 1
local SO_RCVTIMEO, SO_SNDTIMEO = 20, 21
local MSG_NOSIGNAL = 0x4000
local CLOCK_MONOTONIC = 1

local addr, port = arg[1], tonumber(arg[2])

local function fail(what)
  io.stderr:write("probe: ", what, ": ", ffi.string(C.strerror(ffi.errno())), "\n")
  os.exit(1)
end

local ts = ffi.new("struct tlp_timespec")
local function now_ms()
  C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
end

local fd = C.socket(AF_INET, SOCK_STREAM, 0)
if fd < 0 then fail("socket") end
-- Every blocking call is bounded (the spec also runs us under timeout).
local tv = ffi.new("struct tlp_timeval", 5, 0)
C.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, ffi.sizeof(tv))
C.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, ffi.sizeof(tv))

local sa = ffi.new("struct tlp_sockaddr_in")
sa.family = AF_INET
sa.port = bit.rshift(bit.bswap(port), 16)
if C.inet_pton(AF_INET, addr, ffi.cast("void *", ffi.cast("uint8_t *", sa) + 4)) ~= 1 then fail("bad address") end
local t0 = now_ms()
if C.connect(fd, sa, ffi.sizeof(sa)) ~= 0 then fail("connect") end
local connect_ms = now_ms() - t0

local line = "probe line\n"
if C.send(fd, line, #line, MSG_NOSIGNAL) ~= #line then fail("send") end
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
