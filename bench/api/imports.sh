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
source "$root/bench/api/lab.sh"
lab_up '  metrics: {listen: "127.0.0.1:19090"}' "  table_swaps: ${TABLE_SWAPS:-true}"
put() { import_rules 4096 "$1"; }
summary() {
  sort -g | awk -v what="$1" '{ a[NR] = $1 * 1000 }
    END { printf "%s: %d imports, min %.1f, median %.1f, max %.1f ms\n", what, NR, a[1], a[int((NR + 1) / 2)], a[NR] }'
}
for _ in $(seq "${PREFILL:-2}"); do put 0 >/dev/null; put 7 >/dev/null; done
for r in $(seq "$reps"); do put $((r % 2 ? 0 : 7)); done | summary "every rule changed"
for _ in $(seq 6); do put 7; done | summary "the same set again"
ip netns exec "$ns" curl -s http://127.0.0.1:19090/metrics |
  grep -E '^rampart_program_(installs_total|spares_prepared_total)' || true
