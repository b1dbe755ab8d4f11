#!/usr/bin/env bash
# bench/api/writers.sh: 8 writers (wrk -t2 -c8, each request a new rule)
# against a real rampartd, from a standing set of a given size, beside the
# floor (GET /readyz with the same connections); prints both rates and how
# the writes were installed. For A/B of builds in turns.
# Run as root from the repository root after `make build`:
#   sudo bench/api/writers.sh [build=build] [seconds=5] [standing rules=100]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
secs=${2:-5}
standing=${3:-100}
source "$root/bench/api/lab.sh"
lab_up '  metrics: {listen: "127.0.0.1:19090"}'
import_rules "$standing" >/dev/null
import_rules "$standing" >/dev/null  # the second swaps tables: no load pending
echo "== floor: GET /readyz, wrk -t2 -c8 -d${secs}s"
ip netns exec "$ns" wrk -t2 -c8 -d"${secs}s" --latency http://127.0.0.1:18080/readyz |
  grep -E 'Requests/sec|99%'
echo "== POST /api/v1/firewall/rules from $standing rules, wrk -t2 -c8 -d${secs}s"
ip netns exec "$ns" wrk -t2 -c8 -d"${secs}s" --latency -s "$root/bench/api/post_rule.lua" \
  http://127.0.0.1:18080 | grep -E 'Requests/sec|50%|99%|Non-2xx|HTTP [0-9]'
ip netns exec "$ns" curl -s http://127.0.0.1:19090/metrics |
  grep -E '^rampart_program_(installs_total|spares_prepared_total)' || true
