-- Character generator (RFC 864 style) on port 19: sends rotating lines of
-- printable ASCII until the peer closes, or exactly N bytes then closes.
--   sudo tcplua examples/source.lua [N]       then: nc 10.77.0.2 19 | head -c 1M | wc -c
local tcp = require "tcplua"

local limit = tonumber((...))
local port = 19

-- One 64 KiB block of 72-character lines, built once and reused.
local function chargen_block()
  local lines, start = {}, 0
  local chars = {}
  for c = 32, 126 do chars[#chars + 1] = string.char(c) end
  local all = table.concat(chars)
  local total = 0
  while total < 65536 do
    local line = (all .. all):sub(start + 1, start + 72) .. "\r\n"
    lines[#lines + 1] = line
    total = total + #line
    start = (start + 1) % #all
  end
  return table.concat(lines):sub(1, 65536)
end
local block = chargen_block()

assert(tcp.listen(port, function(conn)
  -- A second coroutine watches the read side: when the peer closes (FIN or
  -- RST) the sender stops. Reader and writer may wait on one connection.
  local peer_done = false
  tcp.spawn(function()
    while conn:receiveany(65536) do end
    peer_done = true
  end)
  local left = limit
  while not peer_done and (not left or left > 0) do
    local chunk = block
    if left and left < #chunk then chunk = chunk:sub(1, left) end
    local n = conn:send(chunk)
    if not n then break end
    if left then left = left - n end
  end
end))

local cfg = tcp.config()
if not cfg.quiet then
  print(("source on %s:%d sending %s -- try: nc %s %d | wc -c"):format(cfg.addr, port,
    limit and (limit .. " bytes") or "until you close", cfg.addr, port))
end
