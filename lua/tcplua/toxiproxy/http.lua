-- A small HTTP/1.1 server for the toxiproxy API: one coroutine per client
-- connection, keep-alive, request bodies by Content-Length or chunked, and
-- answers with a Content-Length. Enough for HTTP clients (node's fetch,
-- Go's net/http, curl, requests); not a general web server.
local M = {}

local MAX_BODY = 4 * 1024 * 1024
local MAX_HEADERS = 100

local REASON = {
  [200] = "OK", [201] = "Created", [204] = "No Content", [400] = "Bad Request", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict", [411] = "Length Required",
  [413] = "Payload Too Large", [500] = "Internal Server Error", [501] = "Not Implemented",
}
M.REASON = REASON

-- "%41b" -> "Ab"
function M.unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- A chunked body (RFC 9112 7.1), or nil and why.
local function read_chunked(conn)
  local parts, total = {}, 0
  while true do
    local line, err = conn:receive("*l")
    if not line then return nil, err end
    local n = tonumber(line:match("^%s*(%x+)"), 16)
    if not n then return nil, "bad chunk size" end
    if n == 0 then
      repeat
        line, err = conn:receive("*l")
        if not line then return nil, err end
      until line == ""
      return table.concat(parts)
    end
    total = total + n
    if total > MAX_BODY then return nil, "too large" end
    local data
    data, err = conn:receive(n)
    if not data then return nil, err end
    parts[#parts + 1] = data
    conn:receive("*l")
  end
end

-- The next request on conn: { method, path, query, version, headers, body }
-- or nil, err (err "closed" at a clean end between requests).
function M.read_request(conn)
  local line, err = conn:receive("*l")
  if not line then return nil, err end
  while line == "" do   -- RFC 9112 2.2: ignore empty lines before a request
    line, err = conn:receive("*l")
    if not line then return nil, err end
  end
  local method, target, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then return nil, "bad request line" end
  local headers, ended = {}, false
  for _ = 1, MAX_HEADERS + 1 do
    local h
    h, err = conn:receive("*l")
    if not h then return nil, err end
    if h == "" then ended = true break end
    local k, v = h:match("^([^:%s]+):%s*(.-)%s*$")
    if not k then return nil, "bad header" end
    k = k:lower()
    headers[k] = headers[k] and (headers[k] .. ", " .. v) or v
  end
  if not ended then return nil, "too many headers" end
  -- RFC 9110 10.1.1: a client waiting for 100 Continue (curl does, for
  -- bodies over 1 KB) gets it before the body is read.
  if (headers.expect or ""):lower() == "100-continue" and version == "1.1" then
    conn:send("HTTP/1.1 100 Continue\r\n\r\n")
  end
  local body = ""
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    body, err = read_chunked(conn)
    if not body then return nil, err end
  elseif headers["content-length"] then
    local n = tonumber(headers["content-length"])
    if not n or n < 0 or n ~= math.floor(n) then return nil, "bad content-length" end
    if n > MAX_BODY then return nil, "too large" end
    if n > 0 then
      body, err = conn:receive(n)
      if not body then return nil, err end
    end
  end
  local path, query = target:match("^([^?]*)%??(.*)$")
  return { method = method, target = target, path = path, query = query, version = version,
    headers = headers, body = body }
end

-- Writes one answer. keep: whether the connection stays open after it.
function M.write_response(conn, status, body, ctype, keep)
  body = body or ""
  local head = { ("HTTP/1.1 %d %s\r\n"):format(status, REASON[status] or "Unknown") }
  if ctype and status ~= 204 then head[#head + 1] = "Content-Type: " .. ctype .. "\r\n" end
  if status ~= 204 then head[#head + 1] = "Content-Length: " .. #body .. "\r\n" end
  if not keep then head[#head + 1] = "Connection: close\r\n" end
  head[#head + 1] = "\r\n"
  if status ~= 204 then head[#head + 1] = body end
  return conn:send(head)
end

local function wants_close(req)
  local c = (req.headers.connection or ""):lower()
  if c:find("close", 1, true) then return true end
  return req.version == "1.0" and not c:find("keep-alive", 1, true)
end

-- Serves conn until it closes: handler(req) -> status, body, content_type.
-- An error in handler answers 500 (and is reported), the connection goes on.
function M.serve_conn(conn, handler, report)
  while true do
    local req, err = M.read_request(conn)
    if not req then
      if err == "too large" then
        M.write_response(conn, 413, "request body too large\n", "text/plain; charset=utf-8", false)
      elseif err ~= "closed" and err ~= "reset" and err ~= "timeout" then
        M.write_response(conn, 400, "400 Bad Request\n", "text/plain; charset=utf-8", false)
      end
      return
    end
    local ok, status, body, ctype = xpcall(handler, debug.traceback, req)
    if not ok then
      if report then report(status) end
      status, body, ctype = 500, "internal error\n", "text/plain; charset=utf-8"
    end
    local keep = not wants_close(req)
    if not M.write_response(conn, status, body, ctype, keep) or not keep then return end
  end
end

return M
