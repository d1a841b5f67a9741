-- The C family of the wire codecs Lua uses (core/wire/tcp_wire.h): parsing a
-- TCP header's options. The only module that calls it.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local M = {}

local opts_out = ffi.new("struct tl_tcp_opts")

-- Parses len option bytes at p: the return code (0: well formed) and the
-- struct tl_tcp_opts (valid until the next call).
function M.parse_opts(p, len) return tonumber(C.tl_tcp_parse_opts(p, len, opts_out)), opts_out end

return M
