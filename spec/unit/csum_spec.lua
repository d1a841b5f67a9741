local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function bytes(t) return ffi.new("uint8_t[?]", #t, t) end

describe("checksum (RFC 1071)", function()
  it("matches the RFC 1071 section 3 example", function()
    -- 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement 220d)
    local b = bytes({ 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 })
    assert.are.equal(0xddf2, C.tl_csum_partial(b, 8, 0))
    assert.are.equal(0x220d, C.tl_csum(b, 8))
  end)
end)
