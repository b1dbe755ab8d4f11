#!/usr/bin/env bash
# bench/api: the REST API under load, against a real rampartd protecting a
# veth in a namespace of its own (kernel programs attached, so writes
# really compile and swap rule sets):
#   1. wrk GET /api/v1/firewall/rules (100 stored rules): requests/s, latency
#   2. wrk POST /api/v1/firewall/rules (each a new rule): requests/s, latency
#   3. bench/api/write_latency: 1,000 writes, time until in effect in the kernel
#      (the answer, and a probe packet through the pinned XDP root), beside
#      a GET /readyz between writes (the floor: HTTP and scheduling only),
#      then 300 with agent.table_swaps: false (each write a program load), and
#      the ratio of the medians
# Run as root from the repository root after `make build`:
#   sudo bench/api/run.sh [seconds=10]
set -euo pipefail
secs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build"
source "$root/bench/api/lab.sh"
lab_up

standing() { import_rules "$@" | tr -d '\n'; }
standing 100 >/dev/null

echo "== GET /api/v1/firewall/rules (100 rules), wrk -t2 -c16 -d${secs}s"
ip netns exec "$ns" wrk -t2 -c16 -d"${secs}s" --latency -H "Authorization: Bearer $token" \
  http://127.0.0.1:18080/api/v1/firewall/rules \
  | grep -E 'Requests/sec|50%|90%|99%'
# The floor the write rate stands on: the same client and connections
# asking for nothing (no auth, store or kernel).
echo "== floor: GET /readyz, wrk -t2 -c8 -d${secs}s"
ip netns exec "$ns" wrk -t2 -c8 -d"${secs}s" --latency http://127.0.0.1:18080/readyz \
  | grep -E 'Requests/sec|50%|99%'
echo "== POST /api/v1/firewall/rules (a new rule each), wrk -t2 -c8 -d${secs}s"
ip netns exec "$ns" wrk -t2 -c8 -d"${secs}s" --latency -H "Authorization: Bearer $token" \
  -s "$root/bench/api/post_rule.lua" \
  http://127.0.0.1:18080 | grep -E 'Requests/sec|50%|90%|99%|Non-2xx|HTTP [0-9]'
echo "   rules stored after the run: $(api 'http://127.0.0.1:18080/api/v1/firewall/status' | grep -o '"rules_installed":[0-9]*')"
# Back to the 100 standing rules for the latency run.
standing 100 >/dev/null
echo "== time to effect, 1,000 writes (100 standing rules)"
ip netns exec "$ns" "$build/bin/bench_api_write_latency" 18080 1000 "$work/bpffs/rampart" | tee "$work/swaps.txt"
# Bigger sets: the import itself (a new shape: a program load), then writes on top.
for n in 4096 10000; do
  standing "$n" >/dev/null  # the first import at this size loads; the second swaps
  echo "== import (replace) of $n rules: the same set again $(standing "$n") s," \
    "every rule changed $(standing "$n" 7) s, back $(standing "$n") s;" \
    "time to effect, 300 writes on top"
  ip netns exec "$ns" "$build/bin/bench_api_write_latency" 18080 300 "$work/bpffs/rampart"
done
standing 100 >/dev/null

# A 10^6-prefix source blocklist in the config (shaped like real drop lists:
# 60 % /32, 25 % /24, 15 % /16-/31, over the unicast space but 192.0.2.0/24,
# where the probes come from), then entries of the blocklist domain written
# on top of it, and rule writes with it installed.
awk 'BEGIN { srand(20261130); for (n = 0; n < 1000000;) {
  a = 1 + int(rand() * 223); b = int(rand() * 256); c = int(rand() * 256); d = int(rand() * 256);
  if (a == 127 || (a == 192 && b == 0 && c == 2)) continue;
  r = rand(); if (r < 0.60) { len = 32 } else if (r < 0.85) { len = 24 } else { len = 16 + int(rand() * 16) }
  ip = a * 16777216 + b * 65536 + c * 256 + d; span = 2 ^ (32 - len); ip = ip - ip % span;
  printf "%d.%d.%d.%d/%d\n", int(ip / 16777216), int(ip / 65536) % 256, int(ip / 256) % 256, ip % 256, len; n++ } }' \
  >"$work/blocklist.txt"
sed -i "s|^  firewall: {}$|  firewall: {blocklist: {files: [$work/blocklist.txt]}}|" "$work/rampart.yaml"
kill -HUP "$pid"
for _ in $(seq 300); do
  api http://127.0.0.1:18080/api/v1/blocklist/status 2>/dev/null | grep -q '"config_prefixes":1000000' && break
  sleep 0.1
done
echo "== a 10^6-prefix blocklist configured: $(api http://127.0.0.1:18080/api/v1/blocklist/status)"
echo "== time to effect, 300 blocklist entries added and removed (10^6 listed)"
ip netns exec "$ns" "$build/bin/bench_api_write_latency" 18080 300 "$work/bpffs/rampart" blocklist
echo "== time to effect, 300 rule writes (100 standing rules, 10^6 listed)"
ip netns exec "$ns" "$build/bin/bench_api_write_latency" 18080 300 "$work/bpffs/rampart"
sed -i "s|^  firewall: {blocklist: .*|  firewall: {}|" "$work/rampart.yaml"

# The same against the program-load path in this run: rampartd again, with
# table swaps off (every write loads and verifies a program instance).
echo "== the same with agent.table_swaps: false (every write a program load)"
lab_stop
sed -i 's/^  log_level: warn$/  log_level: warn\n  table_swaps: false/' "$work/rampart.yaml"
lab_start
ip netns exec "$ns" "$build/bin/bench_api_write_latency" 18080 300 "$work/bpffs/rampart" | tee "$work/loads.txt"
median() { sed -n '1s/.*median \([0-9.]*\) ms.*/\1/p' "$1"; }
awk -v a="$(median "$work/swaps.txt")" -v b="$(median "$work/loads.txt")" \
  'BEGIN { printf "   median with table swaps / median with a load per write: %.3f\n", a / b }'
