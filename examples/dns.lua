-- A small authoritative DNS server (RFC 1035) over UDP: A and AAAA records
-- from the table below, NXDOMAIN for names it does not hold.
--   sudo tcplua examples/dns.lua [PORT]
--   then: dig @10.77.0.2 www.tcplua.test A     (dig -p PORT for another port)
--     or: dig -6 @fd77::2 tcplua.test AAAA      (it answers over IPv6 too)
-- Event style: each query datagram is answered in on_datagram.
local tcp = require "tcplua"

local port = tonumber((...)) or 53
local TTL = 60

-- name -> { A = { dotted quads }, AAAA = { IPv6 texts } }; names are
-- matched without case (RFC 4343).
local records = {
  ["tcplua.test"] = { A = { "10.77.0.2" }, AAAA = { "fd77::2" } },
  ["www.tcplua.test"] = { A = { "10.77.0.2", "10.77.0.3" }, AAAA = { "fd77::2" } },
  ["host.tcplua.test"] = { A = { "10.77.0.1" } },
}

local TYPE = { A = 1, AAAA = 28 }
local NOERROR, FORMERR, NXDOMAIN, NOTIMP = 0, 1, 3, 4

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function u32(n) return u16(math.floor(n / 65536)) .. u16(n % 65536) end
local function rd16(s, i) return s:byte(i) * 256 + s:byte(i + 1) end

local function a_rdata(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

-- RFC 4291 2.2 text ("fd77::2") to 16 bytes.
local function aaaa_rdata(text)
  local head, tail = text:match("^(.-)::(.*)$")
  local function groups(s)
    local t = {}
    for g in s:gmatch("[^:]+") do t[#t + 1] = tonumber(g, 16) end
    return t
  end
  local h, t = groups(head or text), groups(tail or "")
  local out = {}
  for _, g in ipairs(h) do out[#out + 1] = u16(g) end
  for _ = 1, 8 - #h - #t do out[#out + 1] = u16(0) end
  for _, g in ipairs(t) do out[#out + 1] = u16(g) end
  return table.concat(out)
end

-- The question's name (lower case, dotted), type, class and the offset
-- past it; nil when it is malformed (RFC 1035 4.1.2: labels of 1-63 bytes,
-- a name of at most 255).
local function question(q)
  local i, labels = 13, {}
  while true do
    local n = q:byte(i)
    if not n or n > 63 or i > 12 + 255 then return nil end
    if n == 0 then break end
    labels[#labels + 1] = q:sub(i + 1, i + n)
    i = i + 1 + n
  end
  if #q < i + 4 then return nil end
  return table.concat(labels, "."):lower(), rd16(q, i + 1), rd16(q, i + 3), i + 5
end

-- The reply to query q (a string), or nil to stay silent (too short to
-- carry an ID, or itself a reply).
local function answer(q)
  if #q < 12 or q:byte(3) >= 128 then return nil end
  local id, opcode, rd = q:sub(1, 2), math.floor(q:byte(3) / 8) % 16, q:byte(3) % 2
  local function reply(rcode, qsection, answers)
    -- QR, the query's opcode, AA, its RD; counts: 1 question (if echoed).
    local flags = u16(32768 + opcode * 2048 + 1024 + rd * 256 + rcode)
    return id .. flags .. u16(qsection and 1 or 0) .. u16(#answers) .. u16(0) .. u16(0)
      .. (qsection or "") .. table.concat(answers)
  end
  if opcode ~= 0 then return reply(NOTIMP, nil, {}) end
  if rd16(q, 5) ~= 1 then return reply(FORMERR, nil, {}) end
  local name, qtype, qclass, after = question(q)
  if not name then return reply(FORMERR, nil, {}) end
  local qsection = q:sub(13, after - 1)
  local rr = records[name]
  if not rr then return reply(NXDOMAIN, qsection, {}) end
  local answers = {}
  for tname, code in pairs(TYPE) do
    if qclass == 1 and (qtype == code or qtype == 255) then
      for _, text in ipairs(rr[tname] or {}) do
        local rdata = code == 1 and a_rdata(text) or aaaa_rdata(text)
        -- The owner name points back at the question's (RFC 1035 4.1.4).
        answers[#answers + 1] = u16(0xc00c) .. u16(code) .. u16(1) .. u32(TTL) .. u16(#rdata) .. rdata
      end
    end
  end
  return reply(NOERROR, qsection, answers)
end

assert(tcp.udp {
  port = port,
  on_datagram = function(sock, q, ip, from)
    local r = answer(q)
    if r then sock:sendto(r, ip, from) end
  end,
})

local cfg = tcp.config()
if not cfg.quiet then
  print(("dns server on %s:%d -- try: dig @%s -p %d www.tcplua.test A"):format(cfg.addr, port, cfg.addr, port))
end
