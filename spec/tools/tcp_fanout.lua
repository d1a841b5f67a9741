-- Many concurrent kernel TCP echo clients in ONE process, for
-- spec/tun/tcp_concurrency_spec.lua. One process matters: hundreds of nc
-- processes outnumber the single tcplua process on the run queue and starve
-- it (CFS shares the CPU per task), which measures the scheduler, not TCP.
--   luajit tcp_fanout.lua ADDR PORT CONNS BYTES SECONDS
-- Opens CONNS non-blocking connections, waits until all are established,
-- then sends each its own BYTES random bytes (half-closing after them) and
-- compares what comes back, byte for byte, until every peer closed or
-- SECONDS passed. Prints one line:
--   fanout: conns=N established=N ok=N bad=N unfinished=N secs=S
-- and exits 0 only if every connection came back intact.
local ffi = require "ffi"

ffi.cdef [[
struct tlf_sockaddr_in { uint16_t family; uint16_t port; uint32_t addr; uint8_t zero[8]; };
struct tlf_pollfd { int fd; short events; short revents; };
struct tlf_timespec { long sec; long nsec; };
int socket(int domain, int type, int protocol);
int connect(int fd, const void *addr, unsigned int len);
int getsockopt(int fd, int level, int name, void *val, unsigned int *len);
int poll(struct tlf_pollfd *fds, unsigned long nfds, int timeout);
long send(int fd, const void *buf, size_t len, int flags);
long recv(int fd, void *buf, size_t len, int flags);
int shutdown(int fd, int how);
int close(int fd);
int inet_pton(int af, const char *src, void *dst);
int memcmp(const void *a, const void *b, size_t n);
int clock_gettime(int clk, struct tlf_timespec *ts);
char *strerror(int errnum);
]]
local C = ffi.C

local AF_INET, SOCK_STREAM, SOCK_NONBLOCK = 2, 1, 2048
local SOL_SOCKET, SO_ERROR = 1, 4
local POLLIN, POLLOUT, POLLERR, POLLHUP = 1, 4, 8, 16
local EINPROGRESS, EAGAIN, EINTR = 115, 11, 4
local SHUT_WR, MSG_NOSIGNAL = 1, 0x4000
local CHUNK = 65536

local addr, port = arg[1], tonumber(arg[2])
local conns, bytes, seconds = tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])

local ts = ffi.new("struct tlf_timespec")
local function now()
  C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.sec) + tonumber(ts.nsec) / 1e9
end
local started = now()
local deadline = started + seconds

local rnd = assert(io.open("/dev/urandom", "rb"))
local data = rnd:read(conns * bytes)
rnd:close()
local base = ffi.cast("const uint8_t *", data)

local sa = ffi.new("struct tlf_sockaddr_in")
sa.family = AF_INET
sa.port = bit.rshift(bit.bswap(port), 16)
assert(C.inet_pton(AF_INET, addr, ffi.cast("uint8_t *", sa) + 4) == 1, "bad address " .. addr)

-- One record per connection: fd, offset of its data, bytes sent and
-- received, state ("connecting", "open", "done", "bad").
local cs = {}
for i = 1, conns do
  local fd = C.socket(AF_INET, SOCK_STREAM + SOCK_NONBLOCK, 0)
  assert(fd >= 0, "socket: " .. ffi.string(C.strerror(ffi.errno())))
  local r = C.connect(fd, sa, ffi.sizeof(sa))
  assert(r == 0 or ffi.errno() == EINPROGRESS, "connect: " .. ffi.string(C.strerror(ffi.errno())))
  cs[i] = { fd = fd, off = (i - 1) * bytes, sent = 0, got = 0, state = "connecting", shut = false }
end

local pfds = ffi.new("struct tlf_pollfd[?]", conns)
local buf = ffi.new("uint8_t[?]", CHUNK)
local err, errlen = ffi.new("int[1]"), ffi.new("unsigned int[1]", 4)

-- Polls every connection events_of(c) gives events for (0: skip it);
-- calls on_ready(c, revents) for each that has some.
local function poll_round(events_of, on_ready)
  local n, idx = 0, {}
  for i = 1, conns do
    local c = cs[i]
    local ev = events_of(c)
    if ev ~= 0 then
      pfds[n].fd, pfds[n].events, pfds[n].revents = c.fd, ev, 0
      n = n + 1
      idx[n] = c
    end
  end
  if n == 0 then return false end
  local r = C.poll(pfds, n, 100)
  if r < 0 and ffi.errno() ~= EINTR then error("poll: " .. ffi.string(C.strerror(ffi.errno()))) end
  for k = 0, n - 1 do
    if pfds[k].revents ~= 0 then on_ready(idx[k + 1], pfds[k].revents) end
  end
  return true
end

-- Phase 1: every connection established (or failed) before any data moves,
-- so all of them are open at the same time.
local established = 0
while now() < deadline do
  local any = poll_round(function(c) return c.state == "connecting" and POLLOUT or 0 end, function(c)
    errlen[0] = 4
    C.getsockopt(c.fd, SOL_SOCKET, SO_ERROR, err, errlen)
    if err[0] == 0 then
      c.state = "open"
      established = established + 1
    else
      c.state = "bad"
      c.why = "connect: " .. ffi.string(C.strerror(err[0]))
    end
  end)
  if not any then break end
end

-- Phase 2: send and check the echo on all of them at once.
local function events_of(c)
  if c.state ~= "open" then return 0 end
  return POLLIN + ((c.sent < bytes) and POLLOUT or 0)
end

local function on_ready(c, rev)
  if bit.band(rev, POLLOUT) ~= 0 and c.sent < bytes then
    local n = tonumber(C.send(c.fd, base + c.off + c.sent, math.min(CHUNK, bytes - c.sent), MSG_NOSIGNAL))
    if n > 0 then
      c.sent = c.sent + n
    elseif ffi.errno() ~= EAGAIN then
      c.state, c.why = "bad", "send: " .. ffi.string(C.strerror(ffi.errno()))
      return
    end
  end
  if c.sent == bytes and not c.shut then
    C.shutdown(c.fd, SHUT_WR)
    c.shut = true
  end
  if bit.band(rev, POLLIN + POLLERR + POLLHUP) ~= 0 then
    local n = tonumber(C.recv(c.fd, buf, CHUNK, 0))
    if n > 0 then
      if c.got + n > bytes or C.memcmp(buf, base + c.off + c.got, n) ~= 0 then
        c.state, c.why = "bad", "echo differs at byte " .. c.got
        return
      end
      c.got = c.got + n
    elseif n == 0 then
      if c.got == bytes then c.state = "done" else c.state, c.why = "bad", "closed after " .. c.got end
    elseif ffi.errno() ~= EAGAIN then
      c.state, c.why = "bad", "recv: " .. ffi.string(C.strerror(ffi.errno()))
    end
  end
end

while now() < deadline do
  if not poll_round(events_of, on_ready) then break end
end

local ok, bad, unfinished = 0, 0, 0
for i = 1, conns do
  local c = cs[i]
  if c.state == "done" then
    ok = ok + 1
  elseif c.state == "bad" then
    bad = bad + 1
    if bad <= 5 then io.stderr:write("fanout: connection ", i, ": ", c.why, "\n") end
  else
    unfinished = unfinished + 1
  end
  C.close(c.fd)
end
print(("fanout: conns=%d established=%d ok=%d bad=%d unfinished=%d secs=%.2f"):format(conns, established, ok, bad,
  unfinished, now() - started))
os.exit(ok == conns and 0 or 1)
