-- The stack's options (core/include/config.def): one table gives the
-- struct, the defaults, the ranges tl_stack_new enforces and docs/config.md.
local core = require "tcplua.core"
local C, ffi = core.C, core.ffi

local function field(name)
  for i = 0, C.tl_config_fields() - 1 do
    local f = C.tl_config_field_at(i)
    if ffi.string(f.name) == name then return f, i end
  end
end

describe("stack options (config.def)", function()
  it("gives every field of tl_config a row, in the struct's layout", function()
    local n = C.tl_config_fields()
    assert.is_true(n > 30)
    local last_end = 0
    for i = 0, n - 1 do
      local f = C.tl_config_field_at(i)
      local name = ffi.string(f.name)
      assert.are.equal(ffi.offsetof("tl_config", name), tonumber(f.offset), name)
      assert.is_true(tonumber(f.offset) >= last_end, name)
      last_end = tonumber(f.offset) + f.size
    end
    assert.is_true(last_end <= ffi.sizeof("tl_config"))
    assert.is_true(C.tl_config_field_at(n) == nil)
  end)

  it("fills tl_config_default from the table, within each range", function()
    local c = ffi.new("tl_config")
    C.tl_config_default(c)
    assert.are.equal(-1, C.tl_config_check(c))
    for i = 0, C.tl_config_fields() - 1 do
      local f = C.tl_config_field_at(i)
      assert.are.equal(tostring(f.def), tostring(ffi.cast("uint64_t", c[ffi.string(f.name)])), ffi.string(f.name))
    end
    -- the RTO floor api.h once documented as 1 s: 200 ms, as Linux, in both
    assert.are.equal(200000, c.tcp_rto_min_us)
  end)

  it("refuses a config with an option out of range, naming it", function()
    local c = ffi.new("tl_config")
    C.tl_config_default(c)
    c.mtu = 67 -- RFC 791 3.1: every link carries 68
    local _, i = field("mtu")
    assert.are.equal(i, C.tl_config_check(c))
    assert.is_true(C.tl_stack_new(c, nil, nil) == nil)
    c.mtu = 68
    local st = C.tl_stack_new(c, nil, nil)
    assert.is_false(st == nil)
    C.tl_stack_free(st)
    c.tcp_quickacks = 16
    assert.are.equal(select(2, field("tcp_quickacks")), C.tl_config_check(c))
  end)

  it("has docs/config.md made from the table as it is now (scripts/config-doc)", function()
    package.path = "scripts/?.lua;" .. package.path
    local page = require("config_doc").render(core)
    local f = assert(io.open("docs/config.md"))
    local on_disk = f:read("*a")
    f:close()
    assert.are.equal(page, on_disk, "docs/config.md is stale: run scripts/config-doc")
  end)
end)
