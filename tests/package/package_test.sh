#!/usr/bin/env bash
# The package tier: builds the .deb and .rpm packages, installs the .debs
# into this machine with dpkg, runs the installed rampartd (--check-config,
# then a short start/stop with the shipped config) and checks the installed
# plugins load, builds the SDK example against the installed rampart-sdk-dev,
# then purges everything.
set -euo pipefail
build=$1 example=$2
work=$(mktemp -d /tmp/rampart-pkg-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  dpkg --purge rampart rampart-sdk-dev >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && cat "$work/daemon.log" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  [ -n "${RAMPART_REQUIRE_KERNEL:-}" ] && fail "the package test needs root"
  echo "skipping: needs root"; exit 77
fi

(cd "$build" && cpack -G "DEB;RPM" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
deb="$build/packages/rampart_${version}_amd64.deb"
sdk_deb="$build/packages/rampart-sdk-dev_${version}_all.deb"
[ -f "$deb" ] || fail "missing $deb"
[ -f "$sdk_deb" ] || fail "missing $sdk_deb"
rpm_main=$(ls "$build"/packages/rampart-${version}-*.x86_64.rpm 2>/dev/null | head -n1)
rpm_sdk=$(ls "$build"/packages/rampart-sdk-devel-${version}-*.noarch.rpm 2>/dev/null | head -n1)
[ -n "$rpm_main" ] || fail "missing rampart .rpm"
[ -n "$rpm_sdk" ] || fail "missing rampart-sdk-devel .rpm"

# What the packages hold.
dpkg-deb -c "$deb" >"$work/deb.list"
for f in ./usr/sbin/rampartd ./usr/lib/rampart/plugins/log.so ./usr/lib/rampart/plugins/webhook.so \
         ./usr/lib/rampart/plugins/email.so ./usr/lib/rampart/bpf/xdp_firewall.bpf.o \
         ./usr/lib/rampart/bpf/tc_dispatch.bpf.o \
         ./usr/bin/rampartctl ./usr/share/bash-completion/completions/rampartctl \
         ./usr/share/rampart/swagger-ui/swagger-ui-bundle.js ./usr/share/rampart/swagger-ui/index.html \
         ./usr/lib/rampart/plugins/grpc.so ./usr/share/rampart/proto/rampart/v1/alerts.proto \
         ./etc/rampart/rampart.yaml \
         ./usr/lib/systemd/system/rampart.service; do
  grep -q " $f\$" "$work/deb.list" || fail "$f not in $deb"
done
# Listings go to files first: `cmd | grep -q` under pipefail fails when grep
# stops reading early.
dpkg-deb -f "$deb" Depends >"$work/deb.depends"
dpkg-deb -c "$sdk_deb" >"$work/sdk.list"
rpm -qlp "$rpm_main" >"$work/rpm.list" 2>/dev/null
rpm -qcp "$rpm_main" >"$work/rpm.conf" 2>/dev/null
rpm -qlp "$rpm_sdk" >"$work/rpm-sdk.list" 2>/dev/null
grep -q libpoco "$work/deb.depends" || fail "rampart .deb does not depend on Poco"
grep -q 'libgrpc++' "$work/deb.depends" || fail "rampart .deb does not depend on gRPC"
grep -q 'include/rampart/sdk/abi.h' "$work/sdk.list" || fail "abi.h not in the SDK package"
grep -q 'include/rampart/events.h' "$work/sdk.list" || fail "the event layouts are not in the SDK package"
grep -qx /usr/sbin/rampartd "$work/rpm.list" || fail "rampartd not in $rpm_main"
for so in log webhook email grpc; do
  grep -qx /usr/lib/rampart/plugins/$so.so "$work/rpm.list" || fail "$so.so not in $rpm_main"
done
grep -qx /etc/rampart/rampart.yaml "$work/rpm.conf" || fail "rampart.yaml is not a %config file"
grep -q /usr/include/rampart/sdk/plugin.hpp "$work/rpm-sdk.list" || fail "plugin.hpp not in $rpm_sdk"

# Install and run what was installed.
dpkg --purge rampart rampart-sdk-dev >/dev/null 2>&1 || true
dpkg -i "$deb" "$sdk_deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
[ -x /usr/sbin/rampartd ] || fail "/usr/sbin/rampartd not installed"
[ -d /var/lib/rampart ] || fail "postinst did not create /var/lib/rampart"
/usr/sbin/rampartd --check-config --config /etc/rampart/rampart.yaml || fail "--check-config rejected the shipped config"

/usr/sbin/rampartd --config /etc/rampart/rampart.yaml >"$work/daemon.log" 2>&1 &
pid=$!
timeout 20 bash -c "until grep -q 'ready plugins=' '$work/daemon.log'; do sleep 0.1; done" \
  || fail "installed rampartd did not become ready"
grep -q 'ready plugins=firewall,grpc,log,metrics,rest refused=0' "$work/daemon.log" || fail "installed plugins did not all load"
grep -q 'path=/usr/lib/rampart/plugins/log.so' "$work/daemon.log" || fail "log plugin not loaded from /usr/lib/rampart/plugins"
# The installed REST API answers on its default address.
curl -sf http://127.0.0.1:8080/healthz >"$work/healthz" || fail "the REST API did not answer on 127.0.0.1:8080"
grep -q '"ok"' "$work/healthz" || fail "unexpected /healthz answer: $(cat "$work/healthz")"
curl -sf http://127.0.0.1:9090/metrics >"$work/metrics" || fail "/metrics did not answer on 127.0.0.1:9090"
grep -q '^rampart_plugins{state="running"} 5$' "$work/metrics" || fail "unexpected /metrics: $(head -c 2000 "$work/metrics")"
grep -q '\[grpc\] listening on 127.0.0.1:50051' "$work/daemon.log" || fail "the gRPC frontend is not on 127.0.0.1:50051"
# A fresh install is never open: an API request without a key is refused,
# the first admin key's token is in a root-only file, and state is root's.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"action":"allow"}' http://127.0.0.1:8080/api/v1/firewall/rules)
[ "$code" = 401 ] || fail "an unauthenticated rule write got $code, not 401"
[ "$(stat -c %a /var/lib/rampart)" = 700 ] || fail "/var/lib/rampart is $(stat -c %a /var/lib/rampart), not 700"
[ "$(stat -c %a /var/lib/rampart/admin.key)" = 600 ] || fail "admin.key is not 0600"
[ "$(stat -c %a /var/lib/rampart/rampart.db)" = 600 ] || fail "rampart.db is not 0600"
token=$(cat /var/lib/rampart/admin.key)
curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:8080/api/v1/firewall/rules >/dev/null \
  || fail "the bootstrap admin key was refused"
curl -sf "http://127.0.0.1:8080/swagger-ui/?key=$token" >"$work/swagger" || fail "the installed Swagger UI did not answer"
grep -q 'swagger-ui-bundle.js' "$work/swagger" || fail "unexpected /swagger-ui/ page"
/usr/bin/rampartctl status >"$work/ctl" 2>&1 || fail "rampartctl status failed: $(cat "$work/ctl")"
grep -q '^firewall  *engine  *running' "$work/ctl" || fail "unexpected rampartctl status: $(cat "$work/ctl")"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" -eq 0 ] || fail "rampartd exited with $status on SIGTERM"
grep -q '\[rampartd\] stopped' "$work/daemon.log" || fail "no clean stop"

# A plugin author's path: the example against the installed SDK package.
cmake -S "$example" -B "$work/example" -G Ninja >/dev/null || fail "example configure against /usr failed"
cmake --build "$work/example" >/dev/null || fail "example build against /usr failed"
[ -f "$work/example/hello_engine.so" ] || fail "example plugin not built"

dpkg --purge rampart rampart-sdk-dev >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
[ ! -e /usr/sbin/rampartd ] || fail "rampartd left behind after purge"
[ ! -e /etc/rampart/rampart.yaml ] || fail "config left behind after purge"
echo "package test passed: $(basename "$deb"), $(basename "$sdk_deb"), $(basename "$rpm_main"), $(basename "$rpm_sdk")"
