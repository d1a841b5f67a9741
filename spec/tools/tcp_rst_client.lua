-- A kernel TCP client that ends its connection with a RST (SO_LINGER 0),
-- for spec/tun/tcp_reset_spec.lua. Runs under LuaJIT inside the spec's
-- namespace (ip netns exec ... timeout N luajit ...).
--   luajit tcp_rst_client.lua ADDR PORT SEND_BYTES READ_BYTES
-- Connects, sends SEND_BYTES, reads READ_BYTES, then closes with linger 0
-- (RFC 9293 3.10.5 ABORT: the kernel sends RST and drops what is queued).
-- Prints "rst-client: sent=N read=M" and exits 0, or exits 1 with a reason.
local ffi = require "ffi"

ffi.cdef [[
struct tlr_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
struct tlr_linger { int onoff; int linger; };
struct tlr_timeval { long sec; long usec; };
int socket(int domain, int type, int protocol);
int connect(int fd, const void *addr, unsigned int len);
int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
long send(int fd, const void *buf, size_t len, int flags);
long recv(int fd, void *buf, size_t len, int flags);
int close(int fd);
int inet_pton(int af, const char *src, void *dst);
char *strerror(int errnum);
]]
local C = ffi.C
local AF_INET, SOCK_STREAM, SOL_SOCKET = 2, 1, 1
local SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO = 13, 20, 21
local MSG_NOSIGNAL = 0x4000

local addr, port, send_bytes, read_bytes = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])

local function fail(what)
  io.stderr:write("rst-client: ", what, ": ", ffi.string(C.strerror(ffi.errno())), "\n")
  os.exit(1)
end

local fd = C.socket(AF_INET, SOCK_STREAM, 0)
if fd < 0 then fail("socket") end
-- Every blocking call is bounded (the spec also runs us under timeout).
local tv = ffi.new("struct tlr_timeval", 5, 0)
C.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, ffi.sizeof(tv))
C.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, ffi.sizeof(tv))

local sa = ffi.new("struct tlr_sockaddr_in")
sa.family = AF_INET
sa.port = bit.rshift(bit.bswap(port), 16)
if C.inet_pton(AF_INET, addr, ffi.cast("void *", ffi.cast("uint8_t *", sa) + 4)) ~= 1 then fail("bad address") end
if C.connect(fd, sa, ffi.sizeof(sa)) ~= 0 then fail("connect") end

local chunk = ffi.new("uint8_t[?]", 65536)
for i = 0, 65535 do chunk[i] = (i * 7 + 3) % 256 end
local sent = 0
while sent < send_bytes do
  local n = C.send(fd, chunk, math.min(65536, send_bytes - sent), MSG_NOSIGNAL)
  if n <= 0 then fail("send") end
  sent = sent + tonumber(n)
end
local got = 0
while got < read_bytes do
  local n = C.recv(fd, chunk, math.min(65536, read_bytes - got), 0)
  if n <= 0 then fail("recv") end
  got = got + tonumber(n)
end

local lg = ffi.new("struct tlr_linger", 1, 0)
if C.setsockopt(fd, SOL_SOCKET, SO_LINGER, lg, ffi.sizeof(lg)) ~= 0 then fail("SO_LINGER") end
C.close(fd)
print(("rst-client: sent=%d read=%d"):format(sent, got))
