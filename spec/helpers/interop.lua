-- Helpers for the TCP interop ring (spec/tun/tcp_*_spec.lua), built on
-- helpers.netns: a namespace with the tcplua binary running a script, shell
-- jobs in it bounded by `timeout`, file digests, and an optional capture.
--
--   local interop = require "helpers.interop"
--   local ns = interop.stack({ "--seed", "1" }, "examples/echo.lua")  -- pending() if no root
--   if not ns then return end
--   local out, rc = ns:run("...")
--
-- Set TCPLUA_INTEROP_PCAP=1 to keep a tcpdump capture of the TUN of every
-- namespace in /tmp (its path is printed); read it with tshark -r.
-- Set TCPLUA_INTEROP_KNOWN_BUGS=1 to run the specs pended as "known bug".
local netns = require "helpers.netns"

local M = {}

M.STACK = "10.77.0.2"   -- the stack's address (the binary's default)
M.HOST = "10.77.0.1"    -- the kernel side of the TUN
M.quote = netns.quote
M.read_file = netns.read_file
M.wait_for = netns.wait_for
M.run_known_bugs = os.getenv("TCPLUA_INTEROP_KNOWN_BUGS") == "1"

-- A fresh namespace, deleted by finally() (with the capture, if any).
-- Calls pending() and returns nil when interop specs cannot run here.
-- busted's pending() and finally() live in the spec's function
-- environment, not in this module's, hence getfenv of a caller's frame.
local function namespace(level)
  -- The nearest caller whose environment has busted's finally(): the spec
  -- itself, however many helper frames (or tail calls) lie in between.
  local env
  for l = level + 1, level + 8 do
    local ok, e = pcall(getfenv, l)
    if ok and type(e) == "table" and e.finally then
      env = e
      break
    end
  end
  -- Without finally() the namespace could not be deleted: refuse before
  -- making one rather than leave it behind.
  assert(env, "interop helpers must be called from inside a busted spec")
  local ok, why = netns.available()
  if not ok then
    env.pending(why)
    return nil
  end
  local ns = netns.new()
  -- busted keeps one finally() per test: a second call would replace this
  -- one and leave the namespace behind. Other cleanups go in ns.cleanups.
  ns.cleanups = {}
  env.finally(function()
    for _, f in ipairs(ns.cleanups) do pcall(f) end
    if ns.capture then
      -- tcpdump flushes the file on SIGINT; give it (bounded) time to exit.
      local pid = M.quote(ns.capture .. ".pid")
      ns:run("p=$(cat " .. pid .. "); kill -INT $p; i=0; while kill -0 $p 2>/dev/null && [ $i -lt 40 ]; do "
        .. "sleep 0.05; i=$((i+1)); done")
    end
    ns:delete()
  end)
  return ns
end

function M.namespace()
  local ns = namespace(2)   -- not a tail call: getfenv counts this frame
  return ns
end

-- Starts `script` under the binary (with --stats --quiet and `args`) in ns
-- and waits for the TUN to come up.
function M.start(ns, args, script, script_args)
  local a = { "--stats", "--quiet" }
  for _, x in ipairs(args or {}) do a[#a + 1] = x end
  ns:start(a, script, script_args)
  local up, err = ns:wait_up()
  assert(up, err)
  if os.getenv("TCPLUA_INTEROP_PCAP") == "1" then
    ns.capture = string.format("/tmp/%s.pcap", ns.name)
    local log = M.quote(ns.tmp .. "/tcpdump.log")
    ns:run("tcpdump --immediate-mode -U -i " .. netns.dev .. " -s 128 -w " .. M.quote(ns.capture) .. " >" .. log .. " 2>&1 & echo $! > "
      .. M.quote(ns.capture .. ".pid"))
    netns.wait_for(function() return netns.read_file(ns.tmp .. "/tcpdump.log"):match("listening on") end, 3000)
    io.stderr:write("interop capture: ", ns.capture, "\n")
  end
  return ns
end

-- namespace() then start(): nil (pending) when interop cannot run.
function M.stack(args, script, script_args)
  local ns = namespace(2)
  if not ns then return nil end
  return M.start(ns, args, script, script_args)
end

-- Stops the binary and returns its --stats counters; fails the spec
-- unless it exited 0 (stderr in the message).
function M.stopped(ns)
  local res = ns:stop()
  if res.rc ~= 0 then error(("tcplua exited %s: %s"):format(tostring(res.rc), tostring(res.stderr)), 2) end
  return res.stats
end

-- SHA-256 of a file inside the namespace's temp dir (hex), or nil and why.
function M.sha256(ns, name)
  local out, rc = ns:run("sha256sum " .. M.quote(ns.tmp .. "/" .. name))
  if rc ~= 0 then return nil, out end
  return out:match("^(%x+)")
end

-- Size of a file in the namespace's temp dir (nil if missing).
function M.size(ns, name)
  local f = io.open(ns.tmp .. "/" .. name, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

-- Writes `bytes` random bytes to a file in the namespace's temp dir.
function M.random_file(ns, name, bytes)
  local out, rc = ns:run("head -c " .. bytes .. " /dev/urandom > " .. M.quote(ns.tmp .. "/" .. name))
  assert(rc == 0, out)
end

-- The binary's stdout so far (the spec scripts print their results there).
function M.stdout(ns) return netns.read_file(ns.out) end
function M.stderr(ns) return netns.read_file(ns.err) end

-- Waits (bounded) until the binary's stdout matches `pattern`; returns the
-- capture (or whole match) or nil.
function M.wait_stdout(ns, pattern, timeout_ms)
  return netns.wait_for(function() return M.stdout(ns):match(pattern) end, timeout_ms or 10000)
end

-- Stops the binary (SIGTERM, bounded) and returns { rc, stdout, stderr,
-- stats }, or the result it already exited with.
function M.stop(ns, timeout_ms)
  return ns:stop(timeout_ms or 3000)
end

-- A one-line summary of the stats that explain most interop failures.
function M.digest(stats)
  local keys = {}
  for k, v in pairs(stats or {}) do
    if v ~= 0 and (k:match("drop") or k:match("retrans") or k:match("rst") or k:match("bad")
        or k:match("timeout") or k:match("impair") or k:match("ooo")) then
      keys[#keys + 1] = k .. "=" .. v
    end
  end
  table.sort(keys)
  return table.concat(keys, " ")
end

-- Starts the binary on examples/echo.lua with args, pipes a random file of
-- `bytes` through `nc` and checks it comes back byte-exact and the binary
-- exits cleanly; returns its --stats (nil when namespaces are unavailable:
-- the spec is pending then).
function M.echo_file(args, bytes)
  local assert = require "luassert"
  local ns = M.stack(args, "examples/echo.lua")
  if not ns then return nil end
  M.random_file(ns, "in", bytes)
  local out, rc = ns:run("cd " .. M.quote(ns.tmp) .. " && timeout 120 nc -N " .. M.STACK .. " 7 < in > out")
  local res = M.stop(ns)
  assert.equal(0, rc, "nc failed or timed out: " .. out .. " (" .. M.digest(res.stats) .. ")")
  assert.equal(bytes, M.size(ns, "out"))
  assert.equal(M.sha256(ns, "in"), M.sha256(ns, "out"))
  assert.equal(0, res.rc, res.stderr)
  return res.stats
end

return M
