-- Interop test helper: a fresh network namespace per spec, the tcplua
-- binary running inside it, commands run inside it, and raw packets sent
-- into its TUN. Everything stays inside the namespace, which is always
-- deleted (call ns:delete() from busted's finally()).
--
--   local netns = require "helpers.netns"
--   local ok, why = netns.available()          -- root and /dev/net/tun?
--   if not ok then pending(why) return end
--   local ns = netns.new(); finally(function() ns:delete() end)
--   ns:start({ "--stats" }, "examples/echo.lua")
--   assert(ns:wait_up())
--   local out, rc = ns:run("ping -c 1 10.77.0.2")
--   local res = ns:stop()                       -- { rc, stdout, stderr, stats }
local ffi = require "ffi"

-- busted may load this helper once per spec file: function declarations
-- may repeat, a struct may not, hence the pcall.
ffi.cdef [[
int setns(int fd, int nstype);
int open(const char *path, int flags, ...);
int close(int fd);
int socket(int domain, int type, int protocol);
unsigned int if_nametoindex(const char *ifname);
long recv(int fd, void *buf, size_t len, int flags);
long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, unsigned int addrlen);
int poll(void *fds, unsigned long nfds, int timeout);
unsigned int getuid(void);
char *strerror(int errnum);
]]
pcall(ffi.cdef, [[
struct tlt_sockaddr_ll {
  unsigned short sll_family;
  unsigned short sll_protocol;
  int sll_ifindex;
  unsigned short sll_hatype;
  unsigned char sll_pkttype;
  unsigned char sll_halen;
  unsigned char sll_addr[8];
};
]])

local M = {}

local CLONE_NEWNET = 0x40000000
local O_RDONLY, O_CLOEXEC = 0, 0x80000
local AF_PACKET, SOCK_DGRAM = 17, 2
local ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86dd
local MSG_DONTWAIT = 0x40

M.bin = os.getenv("TCPLUA_BIN")
-- scripts/test names its run (TCPLUA_NS_TAG) so that it can tell the
-- namespaces its own specs left behind from those of a run beside it.
M.tag = (os.getenv("TCPLUA_NS_TAG") or ""):gsub("[^%w]", "")
if M.tag ~= "" then M.tag = M.tag .. "-" end
if not M.bin or M.bin == "" then M.bin = "./tcplua" end
M.dev = "tcplua0"

-- Commands must not inherit the sanitizer preload the specs run under
-- (the sanitized binary is linked with it; ip/ping are not), nor
-- TCPLUA_LIB (inside the binary the core is the binary itself).
local CLEAN_ENV = "env -u LD_PRELOAD -u TCPLUA_LIB "

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = q

-- Runs a shell command; returns its combined output and exit code.
function M.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"__rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return out:gsub("__rc=%d+%s*$", ""), rc
end

function M.sleep_ms(ms) ffi.C.poll(nil, 0, ms) end

-- Polls cond() every few ms until it returns a true value or timeout_ms
-- passes; returns cond's last value.
function M.wait_for(cond, timeout_ms)
  local deadline = os.time() + math.ceil(timeout_ms / 1000) + 1
  local waited = 0
  while true do
    local v = cond()
    if v then return v end
    if waited >= timeout_ms or os.time() > deadline then return cond() end
    M.sleep_ms(20)
    waited = waited + 20
  end
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end
M.read_file = read_file

-- Whether interop specs can run here; else the reason for pending().
-- Probes once per process by creating (and deleting) a namespace, since
-- root in a container may still lack CAP_SYS_ADMIN.
local probed
function M.available()
  if probed then return probed[1], probed[2] end
  local ok, why = true, nil
  if ffi.C.getuid() ~= 0 then
    ok, why = false, "needs root and /dev/net/tun: run as root"
  elseif not io.open("/dev/net/tun", "rb") then
    ok, why = false, "needs root and /dev/net/tun: /dev/net/tun is missing"
  else
    local name = string.format("tlt-probe-%d", math.random(1e6))
    local out, rc = M.sh("ip netns add " .. name .. " && ip netns del " .. name)
    if rc ~= 0 then ok, why = false, "needs root and /dev/net/tun: cannot create a network namespace: " .. out end
  end
  probed = { ok, why }
  return ok, why
end

local NS = {}
NS.__index = NS

function M.new()
  local rnd = io.open("/dev/urandom", "rb")
  local bytes = rnd:read(4)
  rnd:close()
  local name = string.format("tlt-%s%02x%02x%02x%02x", M.tag, bytes:byte(1, 4))
  local out, rc = M.sh("ip netns add " .. name .. " && ip -n " .. name .. " link set lo up")
  assert(rc == 0, "cannot create network namespace " .. name .. ": " .. out)
  local tmp = M.sh("mktemp -d /tmp/tlt-run.XXXXXX"):gsub("%s+$", "")
  return setmetatable({ name = name, tmp = tmp }, NS)
end

-- Runs a shell command inside the namespace: output, exit code.
function NS:run(cmd)
  return M.sh(CLEAN_ENV .. "ip netns exec " .. self.name .. " sh -c " .. q(cmd))
end

-- Starts the binary in the background inside the namespace. args is a list
-- of options; script and script_args follow. Output goes to files read by
-- stop(). The binary is started through `ip netns exec`, which execs it,
-- so the pid recorded is the binary's own and SIGTERM reaches it directly.
function NS:start(args, script, script_args)
  assert(not self.pid, "already started")
  local parts = { q(M.bin) }
  for _, a in ipairs(args or {}) do parts[#parts + 1] = q(a) end
  parts[#parts + 1] = q(script)
  for _, a in ipairs(script_args or {}) do parts[#parts + 1] = q(a) end
  self.out, self.err = self.tmp .. "/stdout", self.tmp .. "/stderr"
  self.rcfile, self.pidfile = self.tmp .. "/rc", self.tmp .. "/pid"
  -- TCPLUA_LIB stays unset for the binary; LD_PRELOAD is harmless to the
  -- sanitized binary, which needs no preload.
  local cmd = string.format("( env -u TCPLUA_LIB ip netns exec %s %s >%s 2>%s </dev/null & echo $! >%s; "
    .. "wait $!; echo $? >%s ) >/dev/null 2>&1 &",
    self.name, table.concat(parts, " "), q(self.out), q(self.err), q(self.pidfile), q(self.rcfile))
  local _, rc = M.sh(cmd)
  assert(rc == 0, "cannot start " .. M.bin)
  self.pid = M.wait_for(function() return tonumber(read_file(self.pidfile)) end, 5000)
  assert(self.pid, "the binary's pid never appeared")
end

function NS:exited() return read_file(self.rcfile or "/nonexistent") ~= "" end

-- Waits until the TUN has its address and is up (or the binary died).
-- Returns true, or false and what the binary printed.
function NS:wait_up(timeout_ms)
  local ok = M.wait_for(function()
    if self:exited() then return "exited" end
    local out, rc = M.sh("ip -n " .. self.name .. " -4 -o addr show dev " .. M.dev .. " up")
    return rc == 0 and out:match("inet ") and "up"
  end, timeout_ms or 5000)
  if ok == "up" then return true end
  return false, "tcplua did not come up: " .. read_file(self.err) .. read_file(self.out)
end

-- "name value" lines from --stats output as a table.
function M.parse_stats(text)
  local t = {}
  for name, v in text:gmatch("([%w_]+) (%d+)\n") do t[name] = tonumber(v) end
  return t
end

-- Sends SIGTERM (or signal, e.g. "INT"), then waits (bounded) for exit.
-- Returns { rc, stdout, stderr, stats, waited_ms } (rc nil: it did not
-- exit in time).
function NS:stop(timeout_ms, signal)
  assert(self.pid, "not started")
  if not self:exited() then M.sh("kill -" .. (signal or "TERM") .. " " .. self.pid) end
  local waited = 0
  M.wait_for(function()
    if self:exited() then return true end
    waited = waited + 20
  end, timeout_ms or 3000)
  local res = {
    rc = tonumber(read_file(self.rcfile)),
    stdout = read_file(self.out),
    stderr = read_file(self.err),
    waited_ms = waited,
  }
  res.stats = M.parse_stats(res.stdout)
  self.stopped = true
  return res
end

-- Runs fn() with this process inside the namespace (setns), then returns
-- to the original one. A socket created inside keeps the namespace.
function NS:inside(fn)
  local C = ffi.C
  local home = C.open("/proc/self/ns/net", O_RDONLY + O_CLOEXEC)
  assert(home >= 0, "cannot open /proc/self/ns/net")
  local target = C.open("/var/run/netns/" .. self.name, O_RDONLY + O_CLOEXEC)
  if target < 0 then
    C.close(home)
    error("cannot open /var/run/netns/" .. self.name)
  end
  local rc = C.setns(target, CLONE_NEWNET)
  C.close(target)
  if rc ~= 0 then
    C.close(home)
    error("setns into " .. self.name .. " failed: " .. ffi.string(C.strerror(ffi.errno())))
  end
  local ok, a, b = pcall(fn)
  assert(C.setns(home, CLONE_NEWNET) == 0, "setns back to the original namespace failed")
  C.close(home)
  if not ok then error(a, 0) end
  return a, b
end

-- A packet socket on the namespace's TUN: :send(list of IPv4 datagrams as
-- strings) hands bytes to the TUN untouched, as if the kernel routed them
-- to the stack (a raw IP socket would fix up the header checksum);
-- :recv_all() returns the datagrams seen since (in and out of the TUN);
-- :close(). packet_socket(6) does the same for IPv6 datagrams.
local PS = {}
PS.__index = PS

function NS:packet_socket(family)
  local C = ffi.C
  local proto = bit.rshift(bit.bswap(family == 6 and ETH_P_IPV6 or ETH_P_IP), 16)
  local fd, ifindex = self:inside(function()
    return C.socket(AF_PACKET, SOCK_DGRAM, proto), C.if_nametoindex(M.dev)
  end)
  assert(fd >= 0, "AF_PACKET socket: " .. ffi.string(C.strerror(ffi.errno())))
  assert(ifindex ~= 0, "no device " .. M.dev .. " in " .. self.name)
  local sll = ffi.new("struct tlt_sockaddr_ll")
  sll.sll_family = AF_PACKET
  sll.sll_protocol = proto
  sll.sll_ifindex = ifindex
  return setmetatable({ fd = fd, sll = sll, buf = ffi.new("uint8_t[?]", 65536) }, PS)
end

function PS:send(datagrams)
  local sent = 0
  for _, d in ipairs(datagrams) do
    if ffi.C.sendto(self.fd, d, #d, 0, self.sll, ffi.sizeof(self.sll)) == #d then sent = sent + 1 end
  end
  return sent
end

function PS:recv_all()
  local got = {}
  for _ = 1, 100000 do
    local n = ffi.C.recv(self.fd, self.buf, 65536, MSG_DONTWAIT)
    if n <= 0 then break end
    got[#got + 1] = ffi.string(self.buf, n)
  end
  return got
end

function PS:close()
  if self.fd >= 0 then ffi.C.close(self.fd) end
  self.fd = -1
end

-- Always safe to call: kills a binary still running and any other
-- process a spec left in the namespace (by pid), deletes the namespace and
-- the temp files.
function NS:delete()
  if self.pid and not self:exited() then
    M.sh("kill -TERM " .. self.pid)
    M.wait_for(function() return self:exited() end, 2000)
    if not self:exited() then M.sh("kill -KILL " .. self.pid) end
  end
  local pids = M.sh("ip netns pids " .. self.name):gsub("%s+", " ")
  if pids:match("%d") then M.sh("kill -KILL " .. pids) end
  M.sh("ip netns del " .. self.name)
  if self.tmp and self.tmp:match("^/tmp/tlt%-run%.") then M.sh("rm -rf " .. q(self.tmp)) end
end

return M
