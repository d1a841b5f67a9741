-- The verdict of scripts/test, from the summary scripts/test_output.lua
-- wrote (busted's own counts) and busted's exit status; never from the
-- terminal text. Prints the pendings with their reasons, what failed, and
-- last the line "N passed, N failed, N skipped" that CI reads.
--
--   luajit scripts/test_verdict.lua SUMMARY BUSTED_STATUS [--strict-tun]
--
-- exits 0 only if busted finished (summary written), reported no failure and
-- no error, exited 0, and (with --strict-tun, which scripts/test passes when
-- run as root) no spec under spec/tun went pending: as root nothing there
-- has a reason to skip, so a pending one is counted as a failure.
-- dofile() without arguments returns the functions, for the runner's spec.
local M = {}

-- The summary table, or nil and why.
function M.load(path)
  local f = io.open(path, "rb")
  if not f then return nil, "no summary file" end
  local text = f:read("*a")
  f:close()
  if text == "" then return nil, "busted wrote no summary" end
  local chunk, err = loadstring(text, "=summary")
  if not chunk then return nil, "unreadable summary: " .. err end
  setfenv(chunk, {})
  local ok, t = pcall(chunk)
  if not ok or type(t) ~= "table" or type(t.successes) ~= "number" then
    return nil, "unreadable summary: " .. tostring(t)
  end
  return t
end

function M.is_tun(file)
  return ("/" .. file):find("/spec/tun/", 1, true) ~= nil
end

-- A pending's reason on one line, without the "file:line: " busted puts
-- before it (the line says where already).
local function reason(s)
  s = tostring(s or ""):gsub("^[^\n]-:%d+: ", "", 1)
  return (s:gsub("%s*\n%s*", " / "))
end

-- Judges a summary (nil if busted wrote none, with why) and busted's exit
-- status. Returns the lines to print (the last is the counts line), and
-- whether the run passed.
function M.judge(summary, why, status, strict_tun)
  local lines = {}
  local function say(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  if not summary then
    say("scripts/test: busted did not finish (%s; exit status %s): see the output above", why or "?", tostring(status))
    say("0 passed, 1 failed, 0 skipped")
    return lines, false
  end
  local failed = summary.failures + summary.errors
  local skipped = 0
  for _, p in ipairs(summary.pendings or {}) do
    if strict_tun and M.is_tun(p.file) then
      failed = failed + 1
      say("FAILED (pending under spec/tun as root): %s:%d %s: %s", p.file, p.line, p.name, reason(p.message))
    else
      skipped = skipped + 1
      say("skipped (pending): %s:%d %s: %s", p.file, p.line, p.name, reason(p.message))
    end
  end
  for _, f in ipairs(summary.failed or {}) do
    if f.file == "?" then -- not from a spec file: busted's own complaint
      say("FAILED (%s): %s", f.kind, (tostring(f.message):match("[^\n]*")))
    else
      say("FAILED (%s): %s:%d %s", f.kind, f.file, f.line, f.name)
    end
  end
  -- busted exits with failures + errors; any other status with a clean
  -- summary is a crash after it (a sanitizer report, a signal at exit).
  if tonumber(status) ~= 0 and failed == 0 then
    failed = 1
    say("FAILED: busted exited with status %s after a clean summary (a crash at exit?)", tostring(status))
  end
  if summary.runs and summary.runs > 1 then say("(%d runs added up)", summary.runs) end
  say("%d passed, %d failed, %d skipped", summary.successes, failed, skipped)
  return lines, failed == 0
end

function M.main(path, status, flag)
  local summary, why = M.load(path)
  local lines, ok = M.judge(summary, why, tonumber(status) or status, flag == "--strict-tun")
  io.write(table.concat(lines, "\n"), "\n")
  return ok and 0 or 1
end

if select("#", ...) > 0 then os.exit(M.main(...)) end
return M
