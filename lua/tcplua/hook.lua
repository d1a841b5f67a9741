-- The hook runner: segment hooks, accept filters, observers (--trace,
-- --tseq) and tcplua.inject, for one runtime.
--
-- The C core holds every datagram crossing the link boundary in a slot
-- (core/link/hook.c) while hooks are enabled, and reports it as a pending event;
-- runtime:step calls drain(), which, for each held segment: builds a view
-- over its bytes (tcplua.segview), runs the accept filter (SYNs to a
-- listener), then the hooks (global, the listener's for the local port,
-- the connection's) in that order, folding their verdicts as
-- fault.compose does; fixes the checksums if a field was written; and
-- hands the slot back with the verdict (tl_hook_release). A hook that
-- raises is reported with its traceback and counts as "pass".
local chook = require "tcplua.c.hook"
local sock = require "tcplua.c.sock"
local stack = require "tcplua.c.stack"
local core = require "tcplua.core"
local ids = require "tcplua.ids"
local fault = require "tcplua.fault"
local segview = require "tcplua.segview"
local cgw = require "tcplua.c.gw"
local evserver = require "tcplua.evserver"
local bit = require "bit"
local band = bit.band
local traceback = debug.traceback

local M = {}

local DIR_IN, DIR_OUT = chook.DIR_IN, chook.DIR_OUT
local DIRNUM = { ["in"] = DIR_IN, out = DIR_OUT }
local SYN, ACK = 0x02, 0x10

function M.init(rt)
  rt.hook = {
    global = {},        -- tcplua.on_segment hooks, in order
    accept = nil,       -- tcplua.accept_filter
    observers = {},     -- function(seg, dir, conn, now_ms, verdict, state): --trace, --tseq
    listeners = {},     -- port -> server (for opts.accept / opts.on_segment)
    conn_hooks = 0,     -- connections with their own hooks
    errors = 0, resets = 0, accept_refused = 0, accept_dropped = 0, corrupted = 0, sliced = 0, replaced = 0,
    view = segview.new_view(),
    pview = segview.new_pkt_view(),
    gw = nil,           -- the stack is a gateway (known at the first drain)
    mask = 0,
  }
end

-- Scratch for building segments, made on first use (most runtimes never
-- build one).
local function scratch(rt)
  local b = rt.hook.buf
  if not b then
    b = chook.buffer()
    rt.hook.buf = b
  end
  return b
end

-- Recomputes which directions the core must hold for us.
function M.update(rt)
  local hook = rt.hook
  if not rt.st then return end
  local any_seg = #hook.global > 0 or #hook.observers > 0 or hook.conn_hooks > 0
  local any_accept = hook.accept ~= nil
  for _, srv in pairs(hook.listeners) do
    if srv.opts.on_segment then any_seg = true end
    if srv.opts.accept then any_accept = true end
  end
  local mask = 0
  if any_seg then
    mask = chook.IN + chook.OUT
    -- Observers record what the command-line impairment dropped too.
    if #hook.observers > 0 then mask = mask + chook.DROPS end
  elseif any_accept then
    mask = chook.SYN_IN
  end
  if mask ~= hook.mask then
    local r = chook.enable(rt.st, mask)
    if r < 0 then error("hooks: cannot enable (" .. core.strerror(r) .. ")", 3) end
    hook.mask = mask
    if mask ~= 0 then hook.ever = true end
  end
end

local function check_fn(fn, what)
  if fn ~= nil and type(fn) ~= "function" then error(what .. ": expected a function", 3) end
end

-- tcplua.on_segment(fn): adds a global hook; on_segment(nil) removes all.
-- Returns a handle with :remove().
function M.on_segment(rt, fn)
  check_fn(fn, "on_segment")
  local hook = rt.hook
  if fn == nil then
    hook.global = {}
    M.update(rt)
    return nil
  end
  hook.global[#hook.global + 1] = fn
  M.update(rt)
  return { remove = function()
    for i, f in ipairs(hook.global) do
      if f == fn then table.remove(hook.global, i); break end
    end
    M.update(rt)
  end }
end

function M.accept_filter(rt, fn)
  check_fn(fn, "accept_filter")
  rt.hook.accept = fn
  M.update(rt)
end

function M.observe(rt, fn)
  rt.hook.observers[#rt.hook.observers + 1] = fn
  M.update(rt)
end

function M.add_listener(rt, srv)
  rt.hook.listeners[srv.port] = srv
  if srv.opts.accept ~= nil or srv.opts.on_segment ~= nil then
    check_fn(srv.opts.accept, "listen: opts.accept")
    check_fn(srv.opts.on_segment, "listen: opts.on_segment")
    M.update(rt)
  end
end

function M.remove_listener(rt, srv)
  if rt.hook.listeners[srv.port] == srv then
    rt.hook.listeners[srv.port] = nil
    if srv.opts.accept ~= nil or srv.opts.on_segment ~= nil then M.update(rt) end
  end
end

-- conn:on_segment(fn)
function M.conn_on_segment(conn, fn)
  check_fn(fn, "conn:on_segment")
  local rt = conn.rt
  if fn == nil then
    if conn.seg_hooks then rt.hook.conn_hooks = rt.hook.conn_hooks - 1 end
    conn.seg_hooks = nil
  else
    if not conn.seg_hooks then
      conn.seg_hooks = {}
      rt.hook.conn_hooks = rt.hook.conn_hooks + 1
    end
    conn.seg_hooks[#conn.seg_hooks + 1] = fn
  end
  M.update(rt)
end

-- A connection closed: its hooks no longer count.
function M.conn_released(conn)
  if conn.seg_hooks then
    conn.rt.hook.conn_hooks = conn.rt.hook.conn_hooks - 1
    conn.seg_hooks = nil
    M.update(conn.rt)
  end
end

------------------------------------------------------------ the runner --

-- Hooks are called unprotected: drain() runs a whole batch under one
-- xpcall, and an error lets the segment being judged pass (see drain).
local function run_hook(_, fn, v, dir, conn, now)
  return fn(v, dir, conn, now)
end

-- Normalises with the error path of a bad verdict: reported, then "pass".
local function normalize(rt, v)
  local ok, nv = pcall(fault.normalize, v)
  if ok then return nv end
  rt.hook.errors = rt.hook.errors + 1
  rt:error("segment hook", "bad verdict: " .. tostring(nv))
  return nil
end

-- Folds the verdicts of a list of hooks as fault.compose does.
local function run_list(rt, list, acc, v, dir, conn, now)
  for i = 1, #list do
    local r = run_hook(rt, list[i], v, dir, conn, now)
    if r ~= nil and r ~= "pass" and r ~= true then
      local nv = normalize(rt, r)
      if nv then
        if nv.drop then return nv, true end
        acc = acc and fault.merge(acc, nv) or nv
      end
    end
  end
  return acc, false
end

-- The connection a segment belongs to, its core socket, and whether it
-- is an event connection. An event connection's object is only looked
-- up here: process() makes one only for a hook or observer that sees it.
local function lookup_conn(rt, seg)
  local s = chook.sock(rt.st, seg)
  if s == nil then return nil, nil, false end
  local obj, evid = ids.of(rt, s)
  if evid then return evserver.cached(rt, s), s, true end
  return obj, s, false
end

local function state_of(s, listener)
  if s ~= nil then return sock.state_name(sock.state(s)) end
  if listener then return "LISTEN" end
  return nil
end

-- RST for a refused SYN (RFC 9293 3.10.7.2: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>).
local function refuse(rt, v)
  local t = { src = v.dst, dst = v.src, sport = v.dport, dport = v.sport, seq = 0,
    ack = (v.seq + v.len + 1) % 4294967296, flags = "R.", win = 0 }
  local buf = scratch(rt)
  local n = segview.build(t, buf)
  chook.inject(rt.st, DIR_OUT, buf, n, 0, "reset by accept filter", rt.now_us)
end

-- Flips one bit of the TCP part after the checksums were fixed, so the
-- receiver sees a checksum error (netem's corrupt).
local function corrupt(rt, seg, t)
  local hook = rt.hook
  hook.corrupted = hook.corrupted + 1
  local span = (seg.len - t) * 8
  if span <= 0 then return end
  -- Deterministic: a Weyl sequence over the bits, no global random state.
  local k = (hook.corrupted * 2654435761 + 12345) % span
  local byte = t + math.floor(k / 8)
  seg.pkt[byte] = bit.bxor(seg.pkt[byte], bit.lshift(1, k % 8))
end

local function note_of(seg, nv)
  local n = fault.describe(nv)
  local pre = chook.note(seg)
  if pre ~= "" then n = n and (pre .. "; " .. n) or pre end
  return n
end

local function apply(rt, seg, v, dir, nv)
  local st, now = rt.st, rt.now_us
  if not nv then
    if v._dirty then
      chook.fix_checksums(seg.pkt, seg.len)
      seg.csum_partial = 0
    end
    rt.hook.cur = nil
    chook.release(st, seg, 1, 0, nil, now)
    return
  end
  local note = note_of(seg, nv)
  if nv.reverse ~= nil then
    -- A segment the other way (reset_after tells the sender too).
    local buf = scratch(rt)
    local n = segview.build(nv.reverse, buf)
    local back = seg.dir == DIR_IN and DIR_OUT or DIR_IN
    chook.inject(st, back, buf, n, 0, note, now)
  end
  if nv.reset and rt.hook.gw then
    -- The gateway resets the flow at both ends (core/fwd/fwd_reset.c).
    rt.hook.resets = rt.hook.resets + 1
    cgw.reset(st, seg.pkt, seg.len, now)
  end
  if nv.drop then
    rt.hook.cur = nil
    chook.release(st, seg, 0, 0, note, now)
    return
  end
  local rep = nv.segment
  local rest
  if nv.slice and nv.slice > 0 and v.len > nv.slice then
    rt.hook.sliced = rt.hook.sliced + 1
    local pieces = fault.split(fault.copy(rep ~= nil and not segview.is_view(rep) and rep or v), nv.slice)
    rep, rest = pieces[1], pieces
  end
  if rep ~= nil and not segview.is_view(rep) then
    rt.hook.replaced = rt.hook.replaced + 1
    local full = rep
    if type(rep) == "table" and not rest then full = fault.copy(v, rep) end
    local buf = scratch(rt)
    local n = segview.build(full, buf)
    chook.set_bytes(st, seg, buf, n)
  elseif v._dirty then
    chook.fix_checksums(seg.pkt, seg.len)
    seg.csum_partial = 0
  end
  if nv.corrupt then
    corrupt(rt, seg, v._t) -- the transport header's offset, either family
    seg.csum_partial = 0 -- the stack must verify, and so drop, it
  end
  local delay_us = nv.delay and math.floor(nv.delay * 1000) or 0
  local copies = 1 + (nv.duplicate or 0)
  local d = seg.dir
  rt.hook.cur = nil
  chook.release(st, seg, copies, delay_us, note, now)
  if rest then
    for i = 2, #rest do
      local buf = scratch(rt)
      local n = segview.build(rest[i], buf)
      chook.inject(st, d, buf, n, delay_us, note, now)
    end
  end
end

-- A datagram the command-line impairment dropped (TL_HOOK_DROPS): shown
-- to the observers with a drop verdict naming the fault, then freed.
local function observe_drop(rt, seg, v, dir, now)
  local hook = rt.hook
  local conn, s = lookup_conn(rt, seg)
  local note = chook.note(seg):gsub("^dropped by fault: ", "")
  local nv = { drop = true, fault = note ~= "" and note or "link impairment" }
  local obs = hook.observers
  local lport = dir == "in" and v.dport or v.sport
  local state = conn and conn:state() or state_of(s, hook.listeners[lport] ~= nil)
  for i = 1, #obs do
    local ok, err = xpcall(obs[i], traceback, v, dir, conn, now, nv, state)
    if not ok then rt:error("trace", err) end
  end
  hook.cur = nil
  chook.release(rt.st, seg, 0, 0, nil, rt.now_us)
end

local function process(rt, seg)
  local hook = rt.hook
  -- One view per runtime, re-aimed at each segment (no allocation per
  -- segment): a hook keeps fault.copy(seg), never seg itself.
  local v = segview.view(seg, hook.view)
  local gw = hook.gw
  -- A gateway's hooks see every datagram: what is not a TCP segment gets
  -- a packet view, for packet-level faults.
  if not v and gw then v = segview.pkt_view(seg, hook.pview) end
  if not v then
    hook.cur = nil
    chook.release(rt.st, seg, 1, 0, nil, rt.now_us)
    return
  end
  -- In a gateway "in" is a datagram from side a, "out" one from side b.
  local dir = (seg.dir == DIR_IN and seg.side == 0) and "in" or "out"
  local now = rt.now_us / 1000
  if seg.dropped ~= 0 then return observe_drop(rt, seg, v, dir, now) end
  local conn, s, ev
  if gw then
    cgw.observe_seg(rt.st, seg)
  else
    conn, s, ev = lookup_conn(rt, seg)
  end
  local lport = dir == "in" and v.dport or v.sport
  -- A listener's hooks and accept filter are TCP's: a UDP datagram to the
  -- same port number is not its business.
  local srv = v.proto == "tcp" and hook.listeners[lport] or nil
  local obs = hook.observers
  local nv, final
  -- Accept filter: a SYN to a listener, before the stack makes any state.
  if dir == "in" and srv and s == nil and band(v.bits, SYN + ACK) == SYN then
    local f = srv.opts.accept
    if f == nil then f = hook.accept end
    if f then
      local r = run_hook(rt, f, v, dir, nil, now)
      if r == false or r == "refuse" or r == "reset" then
        hook.accept_refused = hook.accept_refused + 1
        nv, final = { drop = true, fault = "accept filter (refused)" }, true
        refuse(rt, v)
      elseif r == "drop" then
        hook.accept_dropped = hook.accept_dropped + 1
        nv, final = { drop = true, fault = "accept filter" }, true
      end
    end
  end
  if ev and not conn and (#hook.global > 0 or #obs > 0 or (srv and srv.opts.on_segment)) then
    conn = evserver.conn_of(rt, s)
  end
  if not final and hook.mask ~= chook.SYN_IN then
    nv, final = run_list(rt, hook.global, nv, v, dir, conn, now)
    if not final and srv and srv.opts.on_segment then
      nv, final = run_list(rt, { srv.opts.on_segment }, nv, v, dir, conn, now)
    end
    if not final and conn and conn.seg_hooks then
      nv, final = run_list(rt, conn.seg_hooks, nv, v, dir, conn, now)
    end
  end
  -- A datagram (UDP, ICMP) has no sequence space: segment replacement,
  -- slicing and an answer the other way are TCP's (drop, delay,
  -- duplicate, corrupt apply).
  if nv and v.proto ~= "tcp" and (nv.segment ~= nil or nv.slice or nv.reverse ~= nil) then
    local copy = {}
    for k, x in pairs(nv) do copy[k] = x end
    copy.segment, copy.slice, copy.reverse = nil, nil, nil
    nv = copy
  end
  if #obs > 0 then
    local state = conn and conn:state() or state_of(s, srv ~= nil)
    if gw then
      local fl = v.flow
      state = fl and fl.state or nil
    end
    for i = 1, #obs do
      local ok, err = xpcall(obs[i], traceback, v, dir, conn, now, nv, state)
      if not ok then rt:error("trace", err) end
    end
  end
  apply(rt, seg, v, dir, nv)
end

local function drain_loop(rt, hook, st)
  while true do
    local seg = chook.next(st)
    if seg == nil then return end
    hook.cur = seg       -- until apply() hands it back
    process(rt, seg)
  end
end

-- Runs the hooks over every held segment. Returns true if there were any.
-- One xpcall per batch, not per hook: a hook (or accept filter) that
-- raises is reported with its traceback, counted in hook_errors, and the
-- segment it was judging passes unchanged; the batch then goes on.
-- The segments released here form one receive batch, like a TUN read
-- batch in the host loop (tcplua.c.stack.rx_batch): the ACKs they owe
-- leave at the stack's next poll, one per connection.

function M.drain(rt)
  local st, hook = rt.st, rt.hook
  if not hook.ever or not chook.pending(st) then return false end
  if hook.gw == nil then
    hook.gw = cgw.is(st)
    if hook.gw then
      hook.view._gw = st
      hook.pview._gw = st
    end
  end
  stack.rx_batch(st, true)
  for _ = 1, 1e6 do
    local ok, err = xpcall(drain_loop, traceback, rt, hook, st)
    if ok then break end
    hook.errors = hook.errors + 1
    rt:error("segment hook", err)
    local seg = hook.cur
    hook.cur = nil
    if seg ~= nil then chook.release(st, seg, 1, 0, nil, rt.now_us) end
  end
  stack.rx_batch(st, false)
  return true
end

-- tcplua.inject(fields): sends a crafted segment. fields: the segment
-- fields (src defaults to the stack's address for "out", dst for "in"),
-- dir ("out": to the link, the default; "in": into the stack as if
-- received), delay (ms). Returns true or nil, err.
function M.inject(rt, t)
  if type(t) ~= "table" then error("inject: expected a table of segment fields", 2) end
  local st = rt.st
  local dir = t.dir or "out"
  local d = DIRNUM[dir]
  if not d then error("inject: dir must be \"in\" or \"out\"", 2) end
  local c = stack.config(st)
  local f = {}
  for k, x in pairs(t) do f[k] = x end
  -- Our address of the family the other one names.
  local other = dir == "out" and f.dst or f.src
  local ours = segview.is6(other) and core.ip6str(core.ip6_of(c.addr6_hi, c.addr6_lo)) or tonumber(c.addr)
  if dir == "out" and f.src == nil then f.src = ours end
  if dir == "in" and f.dst == nil then f.dst = ours end
  local buf = scratch(rt)
  local ok, n = pcall(segview.build, f, buf)
  if not ok then return nil, tostring(n) end
  local r = chook.inject(st, d, buf, n, math.floor((t.delay or 0) * 1000), t.note or "injected",
    rt.now_us)
  if r < 0 then return nil, core.strerror(r) end
  return true
end

-- Hook and fault counters for tcplua.stats().
function M.stats(rt, t)
  local hook = rt.hook
  t.hook_errors = hook.errors
  if hook.gw then t.gateway_resets = hook.resets end
  t.accept_refused = hook.accept_refused
  t.accept_dropped = hook.accept_dropped
  t.hook_corrupted = hook.corrupted
  t.hook_sliced = hook.sliced
  t.hook_replaced = hook.replaced
  for k, x in pairs(fault.stats()) do t["fault_" .. k] = x end
  for d = 0, 1 do
    local counts = chook.impair_counts(rt.st, d)
    if counts then
      for k, n in pairs(counts) do t["impair_" .. (d == 0 and "rx" or "tx") .. "_" .. k] = n end
    end
  end
  return t
end

return M
