# bench/api/lab.sh, sourced by the bench/api scripts (as root): a network
# namespace of the run's own with a veth, a bpffs for rampartd's pins, and
# rampartd protecting the veth with the firewall and the REST API on
# 127.0.0.1:18080. Before sourcing, set `build` (the build directory).
#   lab_up [extra plugins (YAML lines)] [extra agent keys (YAML lines)]
#   lab_start       rampartd (again), once ready; sets pid, token
#   lab_stop        rampartd, stopped
#   api ARGS        curl into the namespace with the admin key
#   import_rules N [OFFSET]
#                   the firewall's API rules replaced by N standing rules
#                   (each its own source /24 and port; with an offset every
#                   rule differs from the set without it); prints the
#                   import's time in seconds
# Everything is removed on exit.
ns=rp-bench-api-$$
work=$(mktemp -d)
lab_cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns exec "$ns" "$build/bin/rampartd" --detach-all --config "$work/rampart.yaml" >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  umount "$work/bpffs" 2>/dev/null || true
  rm -rf "$work"
}
trap lab_cleanup EXIT

lab_up() {
  ip netns add "$ns"
  # The pins on a bpffs of the run's own, outside /sys: `ip netns exec`
  # remounts /sys, and the latency probe opens the XDP root from its pin.
  mkdir -p "$work/bpffs"
  mount -t bpf bpf "$work/bpffs"
  ip -n "$ns" link add rpbench0 type veth peer name rpbench1
  for l in lo rpbench0 rpbench1; do ip -n "$ns" link set "$l" up; done
  cat >"$work/rampart.yaml" <<YAML
agent:
  interfaces: [rpbench0]
  state_dir: $work/state
  bpf_dir: $build/lib/rampart/bpf
  bpf_pin_path: $work/bpffs/rampart
  log_level: warn
${2:-}
plugins:
  firewall: {}
  rest: {listen: "127.0.0.1:18080", socket: $work/api.sock, write_rate_per_second: 1000000, write_burst: 1000000}
${1:-}
YAML
  lab_start
}

lab_start() {
  ip netns exec "$ns" "$build/bin/rampartd" --config "$work/rampart.yaml" \
    --plugin-dir "$build/lib/rampart/plugins" >>"$work/rampartd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do ip netns exec "$ns" curl -sf http://127.0.0.1:18080/readyz >/dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec "$ns" curl -sf http://127.0.0.1:18080/readyz >/dev/null || { cat "$work/rampartd.log"; exit 1; }
  # The admin key rampartd wrote at its first start.
  token=$(cat "$work/state/admin.key")
  export RAMPART_TOKEN=$token
}

lab_stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

api() { ip netns exec "$ns" curl -sf -H "Authorization: Bearer $token" "$@"; }

import_rules() {
  local n=$1 off=${2:-0} f="$work/rules-$1-${2:-0}.json"
  if [ ! -f "$f" ]; then
    {
      printf '{"rules":['
      for i in $(seq 1 "$n"); do
        [ "$i" -gt 1 ] && printf ','
        printf '{"id":%d,"action":"deny","protocol":"udp","src_ip":"10.%d.%d.0/24","dst_port":"%d"}' \
          "$i" $((i / 256)) $((i % 256)) $((1000 + (i + off) % 60000))
      done
      printf ']}'
    } >"$f"
  fi
  ip netns exec "$ns" curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
    -X PUT -H 'Content-Type: application/json' --data-binary @"$f" \
    http://127.0.0.1:18080/api/v1/firewall/rules
}
