-- A kernel TCP server that aborts its one connection with a RST (SO_LINGER
-- 0) in the middle of sending, for spec/tun/tcp_reset_spec.lua. Runs under
-- LuaJIT inside the spec's namespace (ip netns exec ... timeout N luajit).
--   luajit tcp_rst_server.lua ADDR PORT SEND_BYTES
-- Listens, accepts one connection (waiting at most 10 s), sends SEND_BYTES,
-- then closes with linger 0 (RFC 9293 3.10.5 ABORT). Prints
-- "rst-server: sent=N" and exits 0, or exits 1 with a reason.
local ffi = require "ffi"

ffi.cdef [[
struct tlrs_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
struct tlrs_linger { int onoff; int linger; };
struct tlrs_timeval { long sec; long usec; };
int socket(int domain, int type, int protocol);
int bind(int fd, const void *addr, unsigned int len);
int listen(int fd, int backlog);
int accept(int fd, void *addr, void *len);
int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
long send(int fd, const void *buf, size_t len, int flags);
int close(int fd);
int inet_pton(int af, const char *src, void *dst);
char *strerror(int errnum);
]]
local C = ffi.C
local AF_INET, SOCK_STREAM, SOL_SOCKET = 2, 1, 1
local SO_REUSEADDR, SO_LINGER, SO_RCVTIMEO, SO_SNDTIMEO = 2, 13, 20, 21
local MSG_NOSIGNAL = 0x4000

local addr, port, send_bytes = arg[1], tonumber(arg[2]), tonumber(arg[3])

local function fail(what)
  io.stderr:write("rst-server: ", what, ": ", ffi.string(C.strerror(ffi.errno())), "\n")
  os.exit(1)
end

local ls = C.socket(AF_INET, SOCK_STREAM, 0)
if ls < 0 then fail("socket") end
local one = ffi.new("int[1]", 1)
C.setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, one, 4)
local tv = ffi.new("struct tlrs_timeval", 10, 0)
C.setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, tv, ffi.sizeof(tv)) -- bounds accept()
local sa = ffi.new("struct tlrs_sockaddr_in")
sa.family = AF_INET
sa.port = bit.rshift(bit.bswap(port), 16)
if C.inet_pton(AF_INET, addr, ffi.cast("uint8_t *", sa) + 4) ~= 1 then fail("bad address") end
if C.bind(ls, sa, ffi.sizeof(sa)) ~= 0 then fail("bind") end
if C.listen(ls, 1) ~= 0 then fail("listen") end
print("rst-server: listening")
io.stdout:flush()
local fd = C.accept(ls, nil, nil)
if fd < 0 then fail("accept") end
tv.sec = 5
C.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, ffi.sizeof(tv))

local chunk = ffi.new("uint8_t[?]", 65536)
local sent = 0
while sent < send_bytes do
  local n = C.send(fd, chunk, math.min(65536, send_bytes - sent), MSG_NOSIGNAL)
  if n <= 0 then fail("send") end
  sent = sent + tonumber(n)
end
local lg = ffi.new("struct tlrs_linger", 1, 0)
if C.setsockopt(fd, SOL_SOCKET, SO_LINGER, lg, ffi.sizeof(lg)) ~= 0 then fail("SO_LINGER") end
C.close(fd)
C.close(ls)
print(("rst-server: sent=%d"):format(sent))
