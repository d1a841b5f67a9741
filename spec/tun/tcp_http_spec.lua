-- Interop: curl against examples/http.lua over a real TUN: the page, a
-- sized body byte for byte, and two requests on one kept-alive connection.
-- Needs root (pending otherwise).
local interop = require "helpers.interop"

local BASE = "http://" .. interop.STACK .. ":8080"
local q = interop.quote

describe("tcp interop: curl and examples/http.lua", function()
  it("GET / returns the page with status 200 and a matching Content-Length", function()
    local ns = interop.stack({ "--seed", "31" }, "examples/http.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 20 curl -sS -D headers -o body "
      .. "-w '%{http_code} %{size_download}' " .. BASE .. "/")
    assert.equal(0, rc, out)
    local code, size = out:match("^(%d+) (%d+)$")
    assert.equal("200", code, out)
    local headers = interop.read_file(ns.tmp .. "/headers")
    local body = interop.read_file(ns.tmp .. "/body")
    assert.equal(tonumber(headers:match("[Cc]ontent%-[Ll]ength: (%d+)")), #body)
    assert.equal(tonumber(size), #body)
    assert.matches("Hello from tcplua", body, 1, true)
    assert.equal(0, interop.stop(ns).rc)
  end)

  for _, n in ipairs({ 0, 1, 1460, 1000000, 3 * 1024 * 1024 + 7 }) do
    it("GET /bytes/" .. n .. " returns exactly " .. n .. " bytes of 'x'", function()
      local ns = interop.stack({ "--seed", "32" }, "examples/http.lua")
      if not ns then return end
      local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 30 curl -sS -o body -w '%{http_code}' "
        .. BASE .. "/bytes/" .. n)
      assert.equal(0, rc, out)
      assert.equal("200", out)
      assert.equal(n, interop.size(ns, "body"))
      -- Content: only 'x' bytes (tr deletes them; nothing may remain).
      local rest = ns:run("cd " .. q(ns.tmp) .. " && tr -d x < body | wc -c")
      assert.equal("0", (rest:gsub("%s", "")))
      assert.equal(0, interop.stop(ns).rc)
    end)
  end

  it("serves two requests on one kept-alive connection", function()
    local ns = interop.stack({ "--seed", "33" }, "examples/http.lua")
    if not ns then return end
    local out, rc = ns:run("cd " .. q(ns.tmp) .. " && timeout 20 curl -sS -v -o a -o b "
      .. "-w '%{num_connects}\\n' " .. BASE .. "/ " .. BASE .. "/bytes/5000 2>err")
    assert.equal(0, rc, out .. interop.read_file(ns.tmp .. "/err"))
    -- One transfer opened the connection, the second reused it.
    assert.same({ "1", "0" }, { out:match("^(%d+)\n(%d+)\n$") })
    -- curl spells it "Re-using existing connection" or (8.x) "Reusing existing ... connection"
    assert.matches("[Rr]e%-?using existing", interop.read_file(ns.tmp .. "/err"))
    assert.equal(5000, interop.size(ns, "b"))
    assert.matches("Hello from tcplua", interop.read_file(ns.tmp .. "/a"), 1, true)
    local res = interop.stop(ns)
    assert.equal(0, res.rc, res.stderr)
    assert.equal(1, res.stats.tcp_passive_open)
  end)
end)
