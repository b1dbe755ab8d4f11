-- wrk: POST a new firewall rule per request (ids from 1,000,000 up, one
-- counter per thread, so they never collide), each within a fixed /24.
local counter = 0
local thread_id = 0
setup = function(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local id = 1000000 + thread_id * 100000 + counter
  local body = string.format(
    '{"id":%d,"priority":%d,"action":"deny","protocol":"tcp","src_ip":"198.51.100.%d/32","dst_port":"%d"}',
    id, id, counter % 250, 1000 + counter % 60000)
  return wrk.format("POST", "/api/v1/firewall/rules", {["Content-Type"] = "application/json"}, body)
end
