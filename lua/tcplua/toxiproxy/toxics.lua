-- toxiproxy's toxics over a link's chunks (stream level, as toxiproxy:
-- each toxic sees the bytes of one direction of one connection as they are
-- read, not TCP segments). A type has `fields` (its attributes, integers,
-- as toxiproxy's Go structs name them), optionally `attach(link, st, toxic)`
-- and `detach(link, st, toxic, removed)` (per-link set-up and tear-down)
-- and `pipe(link, st, toxic, chunk)`, which returns the chunk to pass on to
-- the next toxic, or nil when it has dropped it or passed pieces on itself
-- (link:run). A chunk is { data = string | eof = true, t = ms read, done }.
-- Waits go through link:sleep_until, which returns false early when the
-- toxic is changed or removed (the data then goes on at once, as
-- toxiproxy's interrupted toxics do).
local M = {}

local floor, max, min = math.floor, math.max, math.min

local function pass(_, _, _, chunk) return chunk end

M.types = {}

M.types.noop = { go = "NoopToxic", fields = {}, pipe = pass }

-- latency: every chunk is held `latency` ms (+- jitter, uniform) from the
-- time it was read.
M.types.latency = {
  go = "LatencyToxic", fields = { "latency", "jitter" },
  pipe = function(link, _, toxic, chunk)
    if chunk.eof then return chunk end
    local a = toxic.attributes
    local delay = a.latency
    if a.jitter > 0 then delay = delay + floor(link.rng:unit() * 2 * a.jitter) - a.jitter end
    local now = link:now()
    if chunk.t + delay > now then link:sleep_until(chunk.t + delay, toxic) end
    chunk.t = link:now()
    return chunk
  end,
}

-- bandwidth: at most `rate` KB/s (1 KB = 1000 bytes) per connection and
-- direction; a chunk larger than 100 ms worth goes out in 100 ms pieces.
M.types.bandwidth = {
  go = "BandwidthToxic", fields = { "rate" },
  pipe = function(link, st, toxic, chunk)
    local rate = toxic.attributes.rate
    if chunk.eof or rate <= 0 then return chunk end
    local data, piece = chunk.data, rate * 100
    local clock = max(st.clock or 0, link:now())
    local pos = 1
    while pos <= #data do
      local part = data:sub(pos, pos + piece - 1)
      clock = clock + #part / rate
      st.clock = clock
      if not link:sleep_until(clock, toxic) then
        link:run(link:piece(chunk, data:sub(pos)))
        return nil
      end
      pos = pos + #part
      link:run(link:piece(chunk, part))
      if link.pair.closed then return nil end
    end
    return nil
  end,
}

-- slow_close: the end of the stream (the source's FIN) is held `delay` ms.
M.types.slow_close = {
  go = "SlowCloseToxic", fields = { "delay" },
  pipe = function(link, _, toxic, chunk)
    if not chunk.eof then return chunk end
    while true do
      if link:sleep_until(link:now() + toxic.attributes.delay, toxic) or toxic.removed then break end
    end
    return chunk
  end,
}

-- timeout: no data passes; `timeout` ms after the toxic took effect on the
-- connection it is closed (0: never, until the toxic is removed, which
-- closes it too, as toxiproxy does since the stream has lost bytes).
M.types.timeout = {
  go = "TimeoutToxic", fields = { "timeout" },
  attach = function(link, st, toxic)
    local ms = toxic.attributes.timeout
    if ms > 0 and st.active then
      st.timer = link.tcp.timer(ms, function() link.pair:teardown("close") end)
    end
  end,
  detach = function(link, st, _, removed)
    if st.timer then st.timer:cancel(); st.timer = nil end
    if removed then link.pair:teardown("close") end
  end,
  pipe = function(link, _, _, chunk)
    if chunk.eof then link.pair:teardown("close") end
    return nil
  end,
}

-- reset_peer: the first data (or end of stream) after the toxic took
-- effect starts a `timeout` ms clock, then both ends are reset (RST).
M.types.reset_peer = {
  go = "ResetToxic", fields = { "timeout" },
  pipe = function(link, _, toxic, _)
    link:sleep_until(link:now() + toxic.attributes.timeout, nil)
    link.pair:teardown("reset")
    return nil
  end,
}

-- toxiproxy's slicer split: halves until a piece is within size_variation
-- of average_size, each cut moved by up to +-size_variation.
local function cuts(rng, a, s, e, out)
  local avg, var = max(1, a.average_size), a.size_variation
  if (e - s) - avg <= var or e - s <= 1 then
    out[#out + 1] = { s, e }
    return
  end
  local mid = s + floor((e - s) / 2)
  if var > 0 then mid = mid + floor(rng:unit() * 2 * var) - var end
  mid = min(max(mid, s + 1), e - 1)
  cuts(rng, a, s, mid, out)
  cuts(rng, a, mid, e, out)
end

-- slicer: chunks are cut into pieces of about average_size bytes, `delay`
-- microseconds apart.
M.types.slicer = {
  go = "SlicerToxic", fields = { "average_size", "size_variation", "delay" },
  pipe = function(link, _, toxic, chunk)
    if chunk.eof then return chunk end
    local parts = {}
    cuts(link.rng, toxic.attributes, 0, #chunk.data, parts)
    for i, p in ipairs(parts) do
      link:run(link:piece(chunk, chunk.data:sub(p[1] + 1, p[2])))
      if link.pair.closed then return nil end
      if i < #parts and not link:sleep_until(link:now() + toxic.attributes.delay / 1000, toxic) then
        link:run(link:piece(chunk, chunk.data:sub(p[2] + 1)))
        return nil
      end
    end
    return nil
  end,
}

-- limit_data: `bytes` bytes pass (counted per connection and direction,
-- kept across updates of the toxic), then the connection is closed.
M.types.limit_data = {
  go = "LimitDataToxic", fields = { "bytes" },
  pipe = function(link, st, toxic, chunk)
    local limit = toxic.attributes.bytes
    if chunk.eof then
      link.pair:teardown("close")
      return nil
    end
    st.sent = st.sent or 0
    local left = max(0, limit - st.sent)
    local data = chunk.data
    if left < #data then data = data:sub(1, left) end
    if #data > 0 then
      st.sent = st.sent + #data
      link:run(link:piece(chunk, data))
    end
    if limit - st.sent <= 0 then link.pair:teardown("close") end
    return nil
  end,
}

M.types.tcplua = require("tcplua.toxiproxy.extension").type

return M
