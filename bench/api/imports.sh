#!/usr/bin/env bash
# bench/api/imports.sh: imports of a 4,096-rule set, over and over, against
# a real rampartd (a veth in a namespace of its own, kernel programs
# attached): every rule changed (two sets, alternating) and the same set
# again; prints min/median/max of curl's time_total and how installs went
# (rampart_program_installs_total, spares prepared). For A/B of two builds
# in turns (git worktree add ..., build rampartd and the plugins there).
# Run as root from the repository root after `make build`:
#   sudo bench/api/imports.sh [build=build] [imports=16]
# PREFILL=n: 2n changed imports first (the audit log fills: with n=14 it
#   is at its 100,000-entry limit and every import prunes 4,096 entries).
# TABLE_SWAPS=false: every import loads a program (the load path's cost in
#   the same run, for the ratio).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
reps=${2:-16}
ns=rp-bench-imp-$$
work=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  umount "$work/bpffs" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
mkdir -p "$work/bpffs"
mount -t bpf bpf "$work/bpffs"
ip -n "$ns" link add rpimp0 type veth peer name rpimp1
for l in lo rpimp0 rpimp1; do ip -n "$ns" link set "$l" up; done
cat >"$work/rampart.yaml" <<YAML
agent:
  interfaces: [rpimp0]
  state_dir: $work/state
  bpf_dir: $build/lib/rampart/bpf
  bpf_pin_path: $work/bpffs/rampart
  log_level: warn
  table_swaps: ${TABLE_SWAPS:-true}
plugins:
  firewall: {}
  metrics: {listen: "127.0.0.1:19090"}
  rest: {listen: "127.0.0.1:18080", socket: $work/api.sock, write_rate_per_second: 1000000, write_burst: 1000000}
YAML
ip netns exec "$ns" "$build/bin/rampartd" --config "$work/rampart.yaml" \
  --plugin-dir "$build/lib/rampart/plugins" >"$work/rampartd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do ip netns exec "$ns" curl -sf http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$ns" curl -sf http://127.0.0.1:18080/readyz >/dev/null || { cat "$work/rampartd.log"; exit 1; }
token=$(cat "$work/state/admin.key")
# A set of 4,096 rules (each its own source /24 and port); the port offset
# makes every rule differ from the set without it.
for off in 0 7; do
  {
    printf '{"rules":['
    for i in $(seq 1 4096); do
      [ "$i" -gt 1 ] && printf ','
      printf '{"id":%d,"action":"deny","protocol":"udp","src_ip":"10.%d.%d.0/24","dst_port":"%d"}' \
        "$i" $((i / 256)) $((i % 256)) $((1000 + (i + off) % 60000))
    done
    printf ']}'
  } >"$work/rules-$off.json"
done
put() {
  ip netns exec "$ns" curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
    -X PUT -H 'Content-Type: application/json' --data-binary @"$work/rules-$1.json" \
    http://127.0.0.1:18080/api/v1/firewall/rules
}
summary() {
  sort -g | awk -v what="$1" '{ a[NR] = $1 * 1000 }
    END { printf "%s: %d imports, min %.1f, median %.1f, max %.1f ms\n", what, NR, a[1], a[int((NR + 1) / 2)], a[NR] }'
}
for _ in $(seq "${PREFILL:-2}"); do put 0 >/dev/null; put 7 >/dev/null; done
for r in $(seq "$reps"); do put $((r % 2 ? 0 : 7)); done | summary "every rule changed"
for _ in $(seq 6); do put 7; done | summary "the same set again"
ip netns exec "$ns" curl -s http://127.0.0.1:19090/metrics |
  grep -E '^rampart_program_(installs_total|spares_prepared_total)' || true
