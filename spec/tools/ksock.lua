-- The kernel-socket client the tools in this folder share: FFI
-- declarations, a blocking IPv4 connect with every call bounded, and the
-- failure exit. The tools run under plain LuaJIT inside a spec's namespace
-- and find this file beside them (see their first lines).
--   local ks = require "ksock"
--   local fd, connect_ms = ks.connect("probe", addr, port)
local ffi = require "ffi"

pcall(ffi.cdef, [[
struct tlk_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
struct tlk_timeval { long sec; long usec; };
struct tlk_timespec { long sec; long nsec; };
struct tlk_linger { int onoff; int linger; };
int socket(int domain, int type, int protocol);
int connect(int fd, const void *addr, unsigned int len);
int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
long send(int fd, const void *buf, size_t len, int flags);
long recv(int fd, void *buf, size_t len, int flags);
int close(int fd);
int inet_pton(int af, const char *src, void *dst);
int clock_gettime(int clk, struct tlk_timespec *ts);
char *strerror(int errnum);
]])

local C = ffi.C
local M = { C = C, ffi = ffi, SOL_SOCKET = 1, SO_LINGER = 13, MSG_NOSIGNAL = 0x4000 }
local AF_INET, SOCK_STREAM, SO_RCVTIMEO, SO_SNDTIMEO, CLOCK_MONOTONIC = 2, 1, 20, 21, 1

-- Prints "who: what: strerror(errno)" and exits 1.
function M.fail(who, what)
  io.stderr:write(who, ": ", what, ": ", ffi.string(C.strerror(ffi.errno())), "\n")
  os.exit(1)
end

local ts = ffi.new("struct tlk_timespec")
local function now_ms()
  C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.sec) * 1000 + tonumber(ts.nsec) / 1e6
end

-- A connected socket to addr:port, or the failure exit. Every blocking call
-- on it is bounded (the specs also run the tools under timeout). Returns
-- the fd and how long connect(2) took, in ms.
function M.connect(who, addr, port)
  local fd = C.socket(AF_INET, SOCK_STREAM, 0)
  if fd < 0 then M.fail(who, "socket") end
  local tv = ffi.new("struct tlk_timeval", 5, 0)
  C.setsockopt(fd, M.SOL_SOCKET, SO_RCVTIMEO, tv, ffi.sizeof(tv))
  C.setsockopt(fd, M.SOL_SOCKET, SO_SNDTIMEO, tv, ffi.sizeof(tv))
  local sa = ffi.new("struct tlk_sockaddr_in")
  sa.family = AF_INET
  sa.port = bit.rshift(bit.bswap(port), 16)
  if C.inet_pton(AF_INET, addr, ffi.cast("void *", ffi.cast("uint8_t *", sa) + 4)) ~= 1 then M.fail(who, "bad address") end
  local t0 = now_ms()
  if C.connect(fd, sa, ffi.sizeof(sa)) ~= 0 then M.fail(who, "connect") end
  return fd, now_ms() - t0
end

return M
