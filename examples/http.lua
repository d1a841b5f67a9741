-- A small HTTP/1.1 server on port 8080: keep-alive, Content-Length, HEAD,
-- "Connection: close" honoured.
--   GET /          a short HTML page
--   GET /bytes/N   N bytes of 'x' (streamed, memory stays flat)
--   anything else  404
--   sudo tcplua examples/http.lua [PORT]      then: curl http://10.77.0.2:8080/
local tcp = require "tcplua"

local port = tonumber((...)) or 8080
local MAX_HEADERS = 100
local IDLE_MS = 30000            -- keep-alive idle timeout

local CHUNK = string.rep("x", 65536)
local REASON = { [200] = "OK", [400] = "Bad Request", [404] = "Not Found",
  [405] = "Method Not Allowed", [505] = "HTTP Version Not Supported" }

local function page()
  local cfg = tcp.config()
  return ("<!doctype html>\n<html><head><title>tcplua</title></head><body>\n"
    .. "<h1>Hello from tcplua</h1>\n<p>This page came over a userspace TCP stack at %s.</p>\n"
    .. "<p>Try <a href=\"/bytes/1000000\">/bytes/1000000</a>.</p>\n</body></html>\n"):format(cfg.addr)
end

-- Sends status line and headers; the body (if any) follows separately.
local function head(conn, status, length, ctype, keep)
  return conn:send({
    "HTTP/1.1 ", tostring(status), " ", REASON[status] or "", "\r\n",
    "Server: tcplua\r\n",
    "Content-Type: ", ctype, "\r\n",
    "Content-Length: ", tostring(length), "\r\n",
    keep and "" or "Connection: close\r\n",
    "\r\n",
  })
end

local function respond(conn, status, body, ctype, keep, is_head)
  local ok, err = head(conn, status, #body, ctype or "text/plain", keep)
  if ok and not is_head and #body > 0 then ok, err = conn:send(body) end
  return ok, err
end

local function send_bytes(conn, n, keep, is_head)
  local ok, err = head(conn, 200, n, "application/octet-stream", keep)
  if not ok or is_head then return ok, err end
  while n > 0 do
    local piece = n >= #CHUNK and CHUNK or CHUNK:sub(1, n)
    ok, err = conn:send(piece)
    if not ok then return nil, err end
    n = n - #piece
  end
  return true
end

-- Reads one request; returns method, path, version, headers (lowercase
-- names), or nil, err ("closed", "timeout", "bad request").
local function read_request(conn)
  local line, err
  repeat                          -- RFC 9112 2.2: ignore empty lines before a request
    line, err = conn:receive("*l")
    if not line then return nil, err end
  until line ~= ""
  local method, path, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  if not method then return nil, "bad request" end
  local headers = {}
  for _ = 1, MAX_HEADERS do
    line, err = conn:receive("*l")
    if not line then return nil, err end
    if line == "" then return method, path, version, headers end
    local name, value = line:match("^([^:%s]+):%s*(.-)%s*$")
    if not name then return nil, "bad request" end
    headers[name:lower()] = value
  end
  return nil, "bad request"
end

local function handle(conn)
  conn:settimeout(IDLE_MS)
  while true do
    local method, path, version, headers = read_request(conn)
    if not method then
      if path == "bad request" then respond(conn, 400, "bad request\n", nil, false) end
      return
    end
    local connection = (headers.connection or ""):lower()
    local keep
    if version == "1.1" then keep = connection ~= "close"
    elseif version == "1.0" then keep = connection == "keep-alive"
    else
      respond(conn, 505, "HTTP version not supported\n", nil, false)
      return
    end
    -- A request body is read and dropped so the next request parses.
    local length = tonumber(headers["content-length"] or "0")
    if not length or length < 0 then respond(conn, 400, "bad content-length\n", nil, false) return end
    if length > 0 and not conn:receive(length) then return end
    local is_head = method == "HEAD"
    local ok
    if method ~= "GET" and method ~= "HEAD" then
      ok = respond(conn, 405, "method not allowed\n", nil, keep, false)
    elseif path == "/" then
      ok = respond(conn, 200, page(), "text/html; charset=utf-8", keep, is_head)
    else
      local n = path:match("^/bytes/(%d+)$")
      if n and #n <= 12 then
        ok = send_bytes(conn, tonumber(n), keep, is_head)
      else
        ok = respond(conn, 404, "not found\n", nil, keep, is_head)
      end
    end
    if not ok or not keep then return end
  end
end

assert(tcp.listen(port, handle, { nodelay = true }))

local cfg = tcp.config()
if not cfg.quiet then
  print(("http server on %s:%d -- try: curl http://%s:%d/"):format(cfg.addr, port, cfg.addr, port))
end
