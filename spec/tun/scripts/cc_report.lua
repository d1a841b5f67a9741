-- Prints the stack's congestion control and that of an accepted
-- connection, then stops.
local tcplua = require "tcplua"
print("stack cc: " .. tostring(tcplua.config().congestion))
tcplua.listen(7, function(conn)
  print("conn cc: " .. tostring(conn:getoption("congestion")))
  conn:close()
  tcplua.stop()
end)
