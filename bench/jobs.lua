-- wrk's client for the benchmark: each connection submits a job, polls
-- get_results until it is done, then submits the next (a closed loop).
-- Run with as many threads as connections (wrk -t8 -c8): the state below is
-- per thread, so one connection each keeps a job's polls on its own socket.
--
-- wrk ... -s bench/jobs.lua URL -- MIX_FILE
-- MIX_FILE holds one request a line: "path<TAB>body<TAB>expected body", with
-- the expected body's line breaks written as byte 1 and its tabs as byte 2.
-- Every answer is compared byte for byte with its expected body, which
-- bench/wrk.py has checked against the independent reference before the
-- run; the clock of a job (submit to done) is CLOCK_MONOTONIC through ffi.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } lss_timespec;
int clock_gettime(int clock, lss_timespec *now);
]]
local CLOCK_MONOTONIC = 1
local now_buffer = ffi.new("lss_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_buffer)
  return tonumber(now_buffer.tv_sec) * 1000000 + tonumber(now_buffer.tv_nsec) / 1000
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("offset", thread_count * 7919)
  table.insert(threads, thread)
end

local mix = {}
local job_path = nil
local submitted_at = 0
local current = 0
jobs, polls, submits, errors, wrong = 0, 0, 0, 0, 0
latencies = {}
error_samples = {}
local POST_HEADERS = { ["Content-Type"] = "application/json" }

local function note_error(text)
  errors = errors + 1
  if #error_samples < 5 then table.insert(error_samples, text) end
end

function init(args)
  for line in io.lines(args[1]) do
    local path, body, expected = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    expected = expected:gsub("\1", "\n"):gsub("\2", "\t")
    table.insert(mix, { request = wrk.format("POST", path, POST_HEADERS, body), expected = expected })
  end
  current = offset % #mix
end

function request()
  if job_path then
    return job_path
  end
  current = current % #mix + 1
  submitted_at = now_us()
  return mix[current].request
end

function response(status, headers, body)
  if not job_path then
    submits = submits + 1
    local job_id = status == 200 and body:match('"job_id":%s*"([^"]+)"')
    if not job_id then
      note_error("submit " .. status .. " " .. body:sub(1, 120))
      return
    end
    job_path = wrk.format("GET", "/api/get_results/" .. job_id)
    return
  end
  polls = polls + 1
  if status ~= 200 then
    note_error("poll " .. status .. " " .. body:sub(1, 120))
    job_path = nil
    return
  end
  if body:find('"running"', 1, true) then
    return
  end
  job_path = nil
  jobs = jobs + 1
  latencies[#latencies + 1] = now_us() - submitted_at
  if body ~= mix[current].expected then
    wrong = wrong + 1
    if #error_samples < 5 then table.insert(error_samples, "wrong: " .. body:sub(1, 120)) end
  end
end

function done(summary, latency, requests)
  local total = { jobs = 0, polls = 0, submits = 0, errors = 0, wrong = 0 }
  local all = {}
  local samples = {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do
      total[name] = total[name] + thread:get(name)
    end
    for _, value in ipairs(thread:get("latencies")) do
      all[#all + 1] = value
    end
    for _, text in ipairs(thread:get("error_samples")) do
      samples[#samples + 1] = text
    end
  end
  table.sort(all)
  local function percentile(fraction)
    if #all == 0 then return -1 end
    local rank = math.max(1, math.min(#all, math.floor(fraction * #all + 0.5)))
    return all[rank] / 1000
  end
  io.write(string.format(
    "LSS {\"seconds\": %.6f, \"jobs\": %d, \"submits\": %d, \"polls\": %d, \"errors\": %d, \"wrong\": %d, " ..
    "\"socket_errors\": %d, \"non_2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
    summary.duration / 1000000, total.jobs, total.submits, total.polls, total.errors, total.wrong,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, percentile(0.5), percentile(0.99), percentile(1.0)))
  for _, text in ipairs(samples) do
    io.write("LSS-SAMPLE " .. text:gsub("\n", " ") .. "\n")
  end
end
