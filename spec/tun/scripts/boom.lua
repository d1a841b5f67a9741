-- A runtime error at top level: the binary must print the traceback and
-- exit non-zero.
local function explode() error("boom from the script") end
explode()
