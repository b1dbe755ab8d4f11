-- wrk: POST a new firewall rule per request (ids from 1,000,000 up, one
-- counter per thread, so they never collide), each within a fixed /24.
-- A headers table given to wrk.format replaces wrk's own (-H), so the key
-- comes from the environment here (run.sh exports RAMPART_TOKEN).
local auth = "Bearer " .. (os.getenv("RAMPART_TOKEN") or "")
local counter = 0
-- thread_id is a global of each thread's own Lua state (thread:set), not a
-- local of this chunk, which the threads' request() would see as 0.
local threads = 0
setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local id = 1000000 + (thread_id or 0) * 100000 + counter
  local body = string.format(
    '{"id":%d,"priority":%d,"action":"deny","protocol":"tcp","src_ip":"198.51.100.%d/32","dst_port":"%d"}',
    id, id, counter % 250, 1000 + counter % 60000)
  return wrk.format("POST", "/api/v1/firewall/rules", {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
-- Every answer but 201 is counted by wrk as "Non-2xx"; the first few are shown.
local shown = 0
response = function(status, headers, body)
  if status ~= 201 and shown < 3 then
    shown = shown + 1
    print("HTTP " .. status .. ": " .. body)
  end
end
