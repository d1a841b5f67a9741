-- Asks the binary to stop on its first loop turn: clean exit 0.
require("tcplua").stop()
