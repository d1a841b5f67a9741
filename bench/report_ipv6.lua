-- The IPv6 section of the bench report (scripts/bench ipv6_section): the
-- same figures over IPv4 and IPv6 in one run, offloads on, tcplua beside
-- the kernel over the veth. The issue's target: tcplua's IPv6 figure
-- within 10 % of its IPv4 one. Loaded by bench/report.lua:
--   local v6 = dofile("bench/report_ipv6.lua")(raw, parse, num)
--   v6.markdown(w)   -- appends its lines; v6.rows for the JSON
return function(raw, parse, num)
  local M = { rows = {} }
  local FIG = {
    { id = "bulk_recv", name = "Bulk receive (kernel -> discard)", unit = "Gbit/s", field = "gbps" },
    { id = "bulk_send", name = "Bulk send (source -> kernel)", unit = "Gbit/s", field = "gbps" },
    { id = "rr", name = "1-byte request/response", unit = "trans/s", field = "rate" },
  }
  local any = false
  for _, f in ipairs(FIG) do
    local r = { id = f.id, name = f.name, unit = f.unit }
    for _, who in ipairs({ "tcplua4", "tcplua6", "kernel4", "kernel6" }) do
      local line = raw["v6_" .. f.id .. "_" .. who]
      if line then any = true end
      local t = parse(line)
      r[who] = num(t, f.field)
      r[who .. "_raw"] = line
      if not r[who] then r[who .. "_why"] = t.notrun and "not run" or (t.error and ("failed: " .. t.error) or "?") end
    end
    if r.tcplua4 and r.tcplua6 and r.tcplua4 > 0 then
      r.v6_of_v4 = r.tcplua6 / r.tcplua4
      r.met = r.v6_of_v4 >= 0.9
    end
    if r.kernel4 and r.kernel6 and r.kernel4 > 0 then r.kernel_v6_of_v4 = r.kernel6 / r.kernel4 end
    if r.tcplua6 and r.kernel6 and r.kernel6 > 0 then r.v6_of_kernel = r.tcplua6 / r.kernel6 end
    M.rows[#M.rows + 1] = r
  end
  M.ran = any

  local function cell(r, who)
    local v = r[who]
    if not v then return r[who .. "_why"] end
    return (r.unit == "Gbit/s" and ("%.2f"):format(v) or ("%.0f"):format(v)) .. " " .. r.unit
  end
  local function x(v) return v and ("%.2fx"):format(v) or "-" end

  function M.markdown(w)
    if not any then return end
    w("## IPv6 beside IPv4")
    w()
    w("Offloads on (TSO/GRO on the veth, `tcplua --offload on`: IPv6 super-segments leave with")
    w("`VIRTIO_NET_HDR_GSO_TCPV6`). One tcplua process serves the IPv4 and IPv6 runs, the two families")
    w("alternating (3 rounds of 4 s bulk, 3 s request/response, by default); each figure is the median of its")
    w("rounds (every round's figure is in bench/results/latest.json, `runs=`), so that a burst of load on this")
    w("shared machine falls on both families. The kernel figures are kernel to kernel over the veth")
    w("(10.88.0.2 and fd88::2), alternating likewise. Target (issue 15): tcplua's IPv6 figure within 10 % of its IPv4 one.")
    w()
    w("| Figure | tcplua IPv4 | tcplua IPv6 | IPv6/IPv4 | kernel IPv4 | kernel IPv6 | kernel IPv6/IPv4 | tcplua/kernel (IPv6) | within 10 % |")
    w("|---|---|---|---|---|---|---|---|---|")
    for _, r in ipairs(M.rows) do
      local met = r.met == nil and "-" or (r.met and "yes" or "**no**")
      w(("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(r.name, cell(r, "tcplua4"), cell(r, "tcplua6"),
        x(r.v6_of_v4), cell(r, "kernel4"), cell(r, "kernel6"), x(r.kernel_v6_of_v4), x(r.v6_of_kernel), met))
    end
    w()
    for _, k in ipairs({ "v6_bulk_recv_stats", "v6_bulk_send_stats" }) do
      if raw[k] then w("- " .. k:gsub("^v6_", ""):gsub("_stats$", "") .. " tcplua counters: `" .. raw[k] .. "`") end
    end
    w()
  end
  return M
end
