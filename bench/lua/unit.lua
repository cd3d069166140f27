-- One "unit" is the C SDK's pattern of two new TLS connections: GET the CA bundle, then
-- the second request (a static 200, GET /version, GET /version?unit=N, or POST
-- /enroll?method=ott).
--
-- wrk -s unit.lua URL -- MODE MAX_UNITS [WORK_PREFIX]
--   MODE       static | floor | app | ott
--              app: /version with a query string of its own each time, so that no
--              cache (the server's shared answers, nginx's proxy_cache) answers it and
--              Django does: what a request costs the app before the view does any work
--   MAX_UNITS  second requests per thread at the most (the count bound of the run)
--   WORK       ott only: thread k reads WORK.k, lines "token<TAB>CSR" with the CSR's
--              newlines written as "|"; each token is sent once, then the thread stops.
--
-- Every request carries "Connection: close", so each one is a new connection and a
-- full handshake. request() alternates the two kinds per thread, not per connection:
-- wrk does not say which connection asks. Answers are told apart by content type
-- (the CA bundle is application/pkcs7-mime), so the counts are exact either way.

local threads = {}
local slices = 0

function setup(thread)
   thread:set("slice", slices)
   slices = slices + 1
   threads[#threads + 1] = thread
end

-- Read by done() through thread:get, so a global of the thread's own environment. Flat:
-- Debian's wrk 4.1.0 crashes copying a table nested in a table, so the counts of
-- non-200 answers travel as a string "status=count,...".
stats = { cacerts_ok = 0, second_ok = 0, bad_body = 0, ran_out = 0, statuses = "" }
local statuses = {}

local first, second_static, second_list
local uncached = false
local max_units, issued, turn = 0, 0, 0
local expect_cert = false

local function close_headers(extra)
   -- wrk.format adds Host and Content-Length to the table it is given: a fresh one each time.
   local headers = { Connection = "close" }
   for k, v in pairs(extra or {}) do headers[k] = v end
   return headers
end

function init(args)
   local mode = args[1]
   max_units = tonumber(args[2])
   first = wrk.format("GET", "/.well-known/est/cacerts", close_headers())
   if mode == "ott" then
      expect_cert = true
      second_list = {}
      local file = assert(io.open(args[3] .. "." .. slice, "r"))
      for line in file:lines() do
         local token, csr = line:match("^(%S+)\t(.+)$")
         local body = csr:gsub("|", "\n")
         second_list[#second_list + 1] = wrk.format(
            "POST", "/enroll?method=ott&token=" .. token,
            close_headers({ ["Content-Type"] = "text/plain", Accept = "application/json" }), body)
      end
      file:close()
      if #second_list < max_units then max_units = #second_list end
   elseif mode == "floor" then
      second_static = wrk.format("GET", "/version", close_headers())
   elseif mode == "app" then
      uncached = true
   elseif mode == "static" then
      second_static = wrk.format("GET", "/", close_headers())
   else
      error("unknown mode " .. tostring(mode))
   end
end

function request()
   turn = 1 - turn
   if turn == 1 then return first end
   if issued >= max_units then
      -- The slice is used up: no token is ever sent twice. Stop this thread; the request
      -- returned meanwhile is a harmless CA bundle fetch.
      stats.ran_out = 1
      wrk.thread:stop()
      return first
   end
   issued = issued + 1
   if second_list then return second_list[issued] end
   if uncached then
      return wrk.format("GET", "/version?unit=" .. slice .. "-" .. issued, close_headers())
   end
   return second_static
end

function response(status, headers, body)
   if status ~= 200 then
      statuses[status] = (statuses[status] or 0) + 1
      local parts = {}
      for code, n in pairs(statuses) do parts[#parts + 1] = code .. "=" .. n end
      stats.statuses = table.concat(parts, ",")
      return
   end
   local ctype = headers["Content-Type"] or headers["content-type"] or ""
   if ctype:find("pkcs7", 1, true) then
      stats.cacerts_ok = stats.cacerts_ok + 1
   elseif expect_cert and not (body and body:find("BEGIN CERTIFICATE", 1, true)) then
      stats.bad_body = stats.bad_body + 1
   else
      stats.second_ok = stats.second_ok + 1
   end
end

local function json_object(t)
   local parts = {}
   for k, v in pairs(t) do
      local value = type(v) == "table" and json_object(v) or string.format("%d", v)
      parts[#parts + 1] = string.format("%q:%s", k, value)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local total = { cacerts_ok = 0, second_ok = 0, bad_body = 0, ran_out = 0, statuses = {} }
   for _, thread in ipairs(threads) do
      local s = thread:get("stats")
      for _, k in ipairs({ "cacerts_ok", "second_ok", "bad_body", "ran_out" }) do
         total[k] = total[k] + s[k]
      end
      for code, n in s.statuses:gmatch("(%d+)=(%d+)") do
         total.statuses[code] = (total.statuses[code] or 0) + tonumber(n)
      end
   end
   local e = summary.errors
   local result = {
      duration_us = summary.duration,
      requests = summary.requests,
      cacerts_ok = total.cacerts_ok,
      second_ok = total.second_ok,
      bad_body = total.bad_body,
      threads_ran_out = total.ran_out,
      non_200 = total.statuses,
      errors = { connect = e.connect, read = e.read, write = e.write, timeout = e.timeout, status = e.status },
      latency_us = {
         p50 = latency:percentile(50), p90 = latency:percentile(90), p99 = latency:percentile(99),
         max = latency.max, mean = math.floor(latency.mean),
      },
   }
   io.write("BENCH_JSON ", json_object(result), "\n")
end
