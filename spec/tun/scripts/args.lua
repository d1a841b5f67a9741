-- Prints the script's arguments as the binary hands them over.
local tcplua = require "tcplua"
print("args: " .. table.concat({ ... }, ",") .. " arg0=" .. tostring(arg[0]))
print("config: dev=" .. tostring(tcplua.config().dev) .. " mtu=" .. tostring(tcplua.config().mtu))
tcplua.stop()
