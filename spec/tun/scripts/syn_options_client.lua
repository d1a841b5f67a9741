-- The stack as a client with options chosen before its SYN, for
-- spec/tun/tcp_syn_options_spec.lua: connects to HOST PORT with MSS and
-- timestamps off (retrying while refused), sends one line and prints what
-- was agreed (the spec stops tcplua once its capture is complete).
--   tcplua syn_options_client.lua HOST PORT MSS
local tcp = require "tcplua"

local host, port, mss = ...

tcp.spawn(function()
  local c, err
  for _ = 1, 400 do
    c, err = tcp.connect(host, tonumber(port), { mss = tonumber(mss), timestamps = false, sack = false,
      timeout = 5000 })
    if c or err ~= "refused" then break end
    tcp.sleep(50)
  end
  if not c then
    print("client: err=" .. tostring(err))
    tcp.stop()
  else
    c:send("hello through a chosen SYN\n")
    local i = c:info()
    print(("client: connected mss=%d timestamps=%d sack=%d"):format(i.mss, c:getoption("timestamps"),
      c:getoption("sack")))
    c:close()
  end
end)
