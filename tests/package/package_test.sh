#!/usr/bin/env bash
# The package tier: builds the .deb and .rpm packages, installs the .debs
# into this machine with dpkg and runs the installed rampartd the way the
# installed systemd unit runs it. There is no systemd here, so the unit is
# emulated from its own file: its ExecStartPre=+ line as root, then its
# other command lines as its User= through setpriv (only the unit's
# capabilities, no_new_privs) and unit_seccomp.py (its system call, address
# family and W^X filters). Checked:
#   - the unit's systemd-analyze security exposure is 3.0 or less;
#   - postinst made a system user `rampart` owning the state and log dirs;
#   - with the shipped config: every plugin loads, the APIs answer, the
#     first admin key's token is in the state dir, rampartctl works;
#   - a config protecting a veth in namespaces made here (a custom
#     agent.bpf_pin_path, a deny rule): ready, /readyz 200, pings dropped;
#   - lintian finds no error or warning; binaries are stripped with their
#     debug information in rampart-dbgsym; the man pages cover --help; the
#     unit is enabled on install and its Documentation= is there;
#   - `dpkg -r rampart`: no XDP program, TC filter, clsact qdisc or pin is
#     left, and pings pass again; the SDK example builds against the
#     installed rampart-sdk-dev; purge removes the rest.
set -euo pipefail
build=$1 example=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  [ -n "${RAMPART_REQUIRE_KERNEL:-}" ] && { echo "FAIL: the package test needs root" >&2; exit 1; }
  echo "skipping: needs root"; exit 77
fi
# A private mount namespace: the bpffs the unit's ExecStartPre=+ step
# mounts at /sys/fs/bpf when none is there, the runtime directory and the
# lab's netns mounts stay this test's and go with it. Files (/usr, /etc,
# /var) are the machine's, as dpkg needs.
if [ -z "${RAMPART_PACKAGE_TEST_NS:-}" ]; then
  export RAMPART_PACKAGE_TEST_NS=1
  exec unshare --mount --propagation private "$BASH" "$here/$(basename "$0")" "$@"
fi

work=$(mktemp -d /tmp/rampart-pkg-XXXXXX)
tag=rp-$$
ns_a=$tag-a ns_b=$tag-b if_a=$tag-a if_b=$tag-b
# A custom agent.bpf_pin_path: the preparation step and the prerm must
# follow the config, not assume the default.
pin_root=/sys/fs/bpf/rampart-$tag
unit=/usr/lib/systemd/system/rampart.service
sys_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin  # systemd's PATH
bpffs_mode=$(stat -f -c %T /sys/fs/bpf 2>/dev/null | grep -q bpf && stat -c %a /sys/fs/bpf || true)
made_run_dir=
pid=
cleanup() {
  set +e
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  mountpoint -q /run/rampart && umount /run/rampart
  [ -n "$made_run_dir" ] && rmdir /run/rampart 2>/dev/null
  # Whatever dpkg -r did not take: XDP and TC go with the namespaces' veth,
  # pins by hand (they outlive this mount namespace if /sys/fs/bpf is the
  # host's bpffs, whose mode is restored too).
  rm -rf "$pin_root" 2>/dev/null
  [ -n "$bpffs_mode" ] && chmod "$bpffs_mode" /sys/fs/bpf
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null
  dpkg --purge rampart rampart-sdk-dev >/dev/null 2>&1
  # purge keeps the system user (as Debian does); the test does not.
  getent passwd rampart >/dev/null && userdel rampart
  getent group rampart >/dev/null && groupdel rampart
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in daemon.log prepare.log check.log remove.log; do
    [ -s "$work/$f" ] && { echo "--- $f" >&2; cat "$work/$f" >&2; }
  done
  exit 1
}

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
         ./usr/lib/rampart/plugins/email.so ./usr/lib/rampart/plugins/xdp_firewall.bpf.o \
         ./usr/lib/rampart/bpf/rampart_root.bpf.o ./usr/lib/rampart/plugins/firewall.so \
         ./usr/lib/rampart/plugins/ratelimit.so ./usr/lib/rampart/plugins/xdp_ratelimit.bpf.o \
         ./usr/lib/rampart/plugins/ddos.so ./usr/lib/rampart/plugins/xdp_ddos.bpf.o \
         ./usr/lib/rampart/plugins/tc_ddos.bpf.o \
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
rpm -qp --scripts "$rpm_main" >"$work/rpm.scripts" 2>/dev/null
rpm -qp --requires "$rpm_main" >"$work/rpm.requires" 2>/dev/null
grep -q libpoco "$work/deb.depends" || fail "rampart .deb does not depend on Poco"
grep -q 'libgrpc++' "$work/deb.depends" || fail "rampart .deb does not depend on gRPC"
grep -qw adduser "$work/deb.depends" || fail "rampart .deb uses adduser in postinst but does not depend on it"
grep -q 'include/rampart/sdk/abi.h' "$work/sdk.list" || fail "abi.h not in the SDK package"
grep -q 'include/rampart/events.h' "$work/sdk.list" || fail "the event layouts are not in the SDK package"
grep -qx /usr/sbin/rampartd "$work/rpm.list" || fail "rampartd not in $rpm_main"
for so in log webhook email grpc; do
  grep -qx /usr/lib/rampart/plugins/$so.so "$work/rpm.list" || fail "$so.so not in $rpm_main"
done
grep -qx /etc/rampart/rampart.yaml "$work/rpm.conf" || fail "rampart.yaml is not a %config file"
grep -q /usr/include/rampart/sdk/plugin.hpp "$work/rpm-sdk.list" || fail "plugin.hpp not in $rpm_sdk"
# The RPM's scriptlets (not run here: this is Debian) are valid sh and do
# what the Debian ones do: the user before install, the detach before erase.
scriptlet() { awk -v name="$1" '$0 ~ "^" name " scriptlet" {s = 1; next} / scriptlet \(using / {s = 0} s' "$work/rpm.scripts"; }
for s in preinstall postinstall preuninstall postuninstall; do
  scriptlet $s >"$work/rpm.$s"
  [ -s "$work/rpm.$s" ] || fail "the rampart .rpm has no $s scriptlet"
  sh -n "$work/rpm.$s" || fail "the rampart .rpm's $s scriptlet is not valid sh"
done
grep -q 'useradd .*--system' "$work/rpm.preinstall" || fail "the .rpm's %pre does not create the rampart user"
grep -q 'rampartd --detach-all' "$work/rpm.preuninstall" \
  || fail "the .rpm's %preun does not detach Rampart from the kernel"
grep -q 'shadow-utils' "$work/rpm.requires" || fail "the .rpm's %pre needs useradd (shadow-utils)"

# lintian: no error and no warning on either .deb; the only overrides are
# the eBPF objects' (packaging/debian/lintian-overrides says why).
lintian --fail-on error,warning --tag-display-limit 0 "$deb" "$sdk_deb" >"$work/lintian.log" 2>&1 \
  || { cat "$work/lintian.log"; fail "lintian found errors or warnings"; }
# Stripped binaries; their debug information in rampart-dbgsym, by build id.
dpkg-deb -x "$deb" "$work/deb-root"
for elf in usr/sbin/rampartd usr/bin/rampartctl usr/lib/rampart/plugins/firewall.so; do
  file "$work/deb-root/$elf" >"$work/file.out"
  grep -q ", stripped" "$work/file.out" || fail "$elf is not stripped: $(cat "$work/file.out")"
done
ddeb="$build/packages/rampart-dbgsym_${version}_amd64.ddeb"
[ -f "$ddeb" ] || fail "no debug symbols package: $ddeb"
build_id=$(readelf -n "$work/deb-root/usr/sbin/rampartd" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$build_id" ] || fail "rampartd has no build id"
dpkg-deb -c "$ddeb" >"$work/ddeb.list"
grep -q "usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug" "$work/ddeb.list" \
  || fail "rampart-dbgsym has no debug file for rampartd's build id $build_id"
# The man pages name every option the programs' --help lists.
"$work/deb-root/usr/sbin/rampartd" --help >"$work/rampartd.help" 2>&1 || true
"$work/deb-root/usr/bin/rampartctl" --help >"$work/rampartctl.help" 2>&1 || true
for prog in rampartd rampartctl; do
  man=$work/deb-root/usr/share/man/man8/$prog.8.gz
  [ -f "$man" ] || fail "no man page for $prog"
  zcat "$man" | sed 's/\\-/-/g' >"$work/$prog.man"
  for opt in $(grep -oE -- '--[a-z][a-z-]+' "$work/$prog.help" | sort -u); do
    grep -q -- "$opt" "$work/$prog.man" || fail "$prog's man page does not mention $opt"
  done
done
[ "$(dpkg-deb -f "$deb" Description | head -n1)" = "eBPF network-security agent" ] \
  || fail "the .deb's synopsis is not ours"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "the .deb's version is not $version"
grep -q "^rampart ($version) " <(zcat "$work/deb-root/usr/share/doc/rampart/changelog.gz") \
  || fail "the changelog does not begin with $version"
grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
  "$work/deb-root/usr/share/doc/rampart/copyright" || fail "no machine-readable copyright"
grep -q "usr/share/doc/rampart-sdk-dev/examples/hello_engine/CMakeLists.txt" "$work/sdk.list" \
  || fail "the SDK package lacks its examples"
grep -q "usr/share/doc/rampart-sdk-dev/plugin-sdk.md" "$work/sdk.list" || fail "the SDK package lacks its guide"
grep -q "libbpf-dev" <(dpkg-deb -f "$sdk_deb" Depends) || fail "the SDK package does not depend on libbpf-dev"
grep -q "PACKAGE_VERSION \"$version\"" <(dpkg-deb --fsys-tarfile "$sdk_deb" |
  tar -xO ./usr/share/cmake/RampartSDK/RampartSDKConfigVersion.cmake) \
  || fail "the SDK's CMake package is not version $version"

# Install. A rampart user left by an earlier run (purge keeps system users)
# would hide a postinst that does not create one.
dpkg --purge rampart rampart-sdk-dev >/dev/null 2>&1 || true
# A fresh install: nothing an earlier run left (purge removes these only
# when the package was installed).
rm -rf /var/lib/rampart /var/log/rampart
getent passwd rampart >/dev/null && userdel rampart
getent group rampart >/dev/null && groupdel rampart
dpkg -i "$deb" "$sdk_deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
[ -x /usr/sbin/rampartd ] || fail "/usr/sbin/rampartd not installed"
[ -f "$unit" ] || fail "$unit not installed"
# Enabled on install (deb-systemd-helper, as without systemd running).
wants=/etc/systemd/system/multi-user.target.wants/rampart.service
[ -L "$wants" ] || fail "postinst did not enable rampart.service ($wants)"
doc=$(sed -n 's|^Documentation=file://||p' "$unit")
[ -f "$doc" ] || fail "the unit's Documentation= ($doc) is not installed"
man -w rampartd >/dev/null 2>&1 || fail "man rampartd finds no page"

# The unit as systemd reads it: any unknown or misspelled setting would be
# ignored with a warning, and its hardening with it.
systemd-analyze verify "$unit" >"$work/verify" 2>&1 || fail "systemd-analyze verify failed: $(cat "$work/verify")"
[ ! -s "$work/verify" ] || fail "systemd-analyze verify: $(cat "$work/verify")"
# The unit's hardening, as systemd would score it.
systemd-analyze security --offline=true "$unit" >"$work/security" 2>&1 \
  || fail "systemd-analyze security failed: $(cat "$work/security")"
score=$(sed -n 's/.*Overall exposure level for rampart\.service: \([0-9.]*\).*/\1/p' "$work/security")
[ -n "$score" ] || fail "no exposure level in: $(cat "$work/security")"
awk -v s="$score" 'BEGIN { exit !(s + 0 <= 3.0) }' \
  || fail "the unit's exposure level is $score, above 3.0; open: $(grep '✗' "$work/security")"
unit_value() { sed -n "s/^$1=//p" "$unit"; }
sorted_words() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' '; }
[ "$(unit_value User)" = rampart ] || fail "the unit does not run as the rampart user"
for key in CapabilityBoundingSet AmbientCapabilities; do
  [ "$(unit_value $key | sorted_words)" = "CAP_BPF CAP_NET_ADMIN CAP_PERFMON " ] \
    || fail "$key is not exactly CAP_BPF CAP_NET_ADMIN CAP_PERFMON: $(unit_value $key)"
done
prepare_cmd=$(sed -n 's/^ExecStartPre=+//p' "$unit")
check_cmd=$(sed -n 's/^ExecStartPre=\([^+]\)/\1/p' "$unit")
start_cmd=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$prepare_cmd" ] || fail "the unit has no ExecStartPre=+ step preparing the pin root"
case "$check_cmd" in *--check-config*) ;; *) fail "the unit does not check the config before starting";; esac
[ -n "$start_cmd" ] || fail "the unit has no ExecStart="

# The system user.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd rampart) || fail "postinst did not create the rampart user"
[ "$uid" -lt 1000 ] || fail "rampart is not a system user (uid $uid)"
[ "$(getent group rampart | cut -d: -f3)" = "$gid" ] || fail "rampart's primary group is not rampart"
[ "$home" = /var/lib/rampart ] || fail "rampart's home is $home, not /var/lib/rampart"
case "$shell" in */nologin | /bin/false) ;; *) fail "rampart has a login shell: $shell" ;; esac
for d in /var/lib/rampart /var/log/rampart; do
  [ "$(stat -c '%U:%G %a' $d)" = "rampart:rampart 700" ] || fail "$d is $(stat -c '%U:%G %a' $d), not rampart:rampart 700"
done

# The lab: namespaces A (198.18.0.1) and B (198.18.0.2) joined by a veth;
# rampartd runs in B. Pings never leave these two namespaces.
ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$if_a" netns "$ns_a" type veth peer name "$if_b" netns "$ns_b"
ip -n "$ns_a" addr add 198.18.0.1/24 dev "$if_a"
ip -n "$ns_b" addr add 198.18.0.2/24 dev "$if_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$if_a" up
ip -n "$ns_b" link set "$if_b" up
in_b() { ip netns exec "$ns_b" "$@"; }
# Echo replies received out of $1 requests from A to B: a reply proves the
# request got through B's XDP and TC.
pings() {
  { ip netns exec "$ns_a" ping -n -q -c "$1" -i 0.2 -W 1 198.18.0.2 2>&1 || true; } \
    | sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p'
}

# The unit, by hand. ExecStartPre=+ runs as root without the sandbox;
# everything else in namespace B (nsenter --net keeps this mount namespace,
# so /sys/fs/bpf is the one the preparation step set up, where `ip netns
# exec` would remount /sys), as User= with only the unit's capabilities,
# no_new_privs, its seccomp filters and its UMask=, from /, with systemd's
# environment.
caps=-all$(unit_value AmbientCapabilities | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/,+\L\1/p' | tr -d '\n')
# Execs: call it in a subshell, `(sandboxed ...)`, or in the background,
# where $! is then the command's own pid.
sandboxed() {
  cd / && umask "$(unit_value UMask)" && exec env -i PATH="$sys_path" \
    nsenter --net="/run/netns/$ns_b" \
    setpriv --reuid="$(unit_value User)" --regid="$(unit_value Group)" --init-groups --no-new-privs \
    --inh-caps="$caps" --ambient-caps="$caps" --bounding-set="$caps" \
    /usr/bin/python3 "$here/unit_seccomp.py" "$unit" "$@"
}
run_dir() {  # RuntimeDirectory=rampart with its mode, the rampart user's, gone at stop
  [ -d /run/rampart ] || { mkdir /run/rampart; made_run_dir=1; }
  mount -t tmpfs -o "mode=$(unit_value RuntimeDirectoryMode),uid=$uid,gid=$gid" rampart-run /run/rampart
}
# Starts the unit; waits for the readiness verdict ($1: "ready" or "not
# ready", the log line "] <verdict> plugins=").
start_service() {
  run_dir
  (cd / && env -i PATH="$sys_path" $prepare_cmd) >"$work/prepare.log" 2>&1 \
    || fail "the unit's ExecStartPre=+ step failed"
  (sandboxed $check_cmd) >"$work/check.log" 2>&1 || fail "the unit's --check-config step failed as rampart"
  sandboxed $start_cmd >"$work/daemon.log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 30))
  until grep -q "\] $1 plugins=" "$work/daemon.log"; do
    kill -0 "$pid" 2>/dev/null || fail "rampartd (as rampart) exited before it logged '$1'"
    [ $SECONDS -lt $deadline ] || fail "rampartd (as rampart) did not log '$1' in 30 s"
    sleep 0.1
  done
}
stop_service() {
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  umount /run/rampart
  [ "$status" -eq 0 ] || fail "rampartd exited with $status on SIGTERM"
  grep -q '\[rampartd\] stopped' "$work/daemon.log" || fail "no clean stop"
}
# What the kernel says about the running agent: the unit's user, exactly
# CAP_NET_ADMIN (12), CAP_PERFMON (38) and CAP_BPF (39) in every set,
# no_new_privs, a seccomp filter.
check_credentials() {
  local want
  want=$(printf '%016x' $(((1 << 12) | (1 << 38) | (1 << 39))))
  field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status"; }
  [ "$(field Uid | tr -s '\t ' ' ')" = "$uid $uid $uid $uid" ] || fail "rampartd runs with uids $(field Uid)"
  [ "$(field Gid | tr -s '\t ' ' ')" = "$gid $gid $gid $gid" ] || fail "rampartd runs with gids $(field Gid)"
  for set in CapInh CapPrm CapEff CapBnd CapAmb; do
    [ "$(field $set)" = "$want" ] || fail "rampartd's $set is $(field $set), not $want"
  done
  [ "$(field NoNewPrivs)" = 1 ] || fail "rampartd runs without no_new_privs"
  [ "$(field Seccomp)" = 2 ] || fail "rampartd runs without the unit's seccomp filters"
}

# 1. The shipped config. A fresh install is never open: an API request
# without a key is refused, the first admin key's token is in a file only
# the agent's user (and root) reads, and the state is that user's.
# An operator's check as root runs as the agent's user: the log sender
# creates the file it checks, and a root-owned one would lock the agent out.
/usr/sbin/rampartd --check-config --config /etc/rampart/rampart.yaml >"$work/check.log" 2>&1 \
  || fail "--check-config rejected the shipped config"
grep -q '^rampartd: running as rampart' "$work/check.log" || fail "root's --check-config did not run as rampart"
[ "$(stat -c %U /var/log/rampart/alerts.json)" = rampart ] \
  || fail "root's --check-config left /var/log/rampart/alerts.json to $(stat -c %U /var/log/rampart/alerts.json)"
# Without interfaces the firewall cannot enforce: up, every plugin loaded,
# and honest about it.
start_service "not ready"
check_credentials
grep -q '\] not ready plugins=firewall,grpc,log,metrics,rest refused=0 missing="plugins.firewall' "$work/daemon.log" \
  || fail "installed plugins did not all load"
grep -q 'path=/usr/lib/rampart/plugins/log.so' "$work/daemon.log" || fail "log plugin not loaded from /usr/lib/rampart/plugins"
in_b curl -sf http://127.0.0.1:8080/healthz >"$work/healthz" || fail "the REST API did not answer on 127.0.0.1:8080"
grep -q '"ok"' "$work/healthz" || fail "unexpected /healthz answer: $(cat "$work/healthz")"
in_b curl -sf http://127.0.0.1:8079/metrics >"$work/metrics" || fail "/metrics did not answer on 127.0.0.1:8079"
grep -q '^rampart_plugins{state="running"} 5$' "$work/metrics" || fail "unexpected /metrics: $(head -c 2000 "$work/metrics")"
grep -q '\[grpc\] listening on 127.0.0.1:50051' "$work/daemon.log" || fail "the gRPC frontend is not on 127.0.0.1:50051"
code=$(in_b curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"action":"allow"}' http://127.0.0.1:8080/api/v1/firewall/rules)
[ "$code" = 401 ] || fail "an unauthenticated rule write got $code, not 401"
for f in admin.key rampart.db rampartd.lock; do
  [ "$(stat -c '%U %a' /var/lib/rampart/$f)" = "rampart 600" ] \
    || fail "/var/lib/rampart/$f is $(stat -c '%U %a' /var/lib/rampart/$f), not rampart 600"
done
[ "$(stat -c '%U %a' /run/rampart/rampart.sock)" = "rampart 600" ] || fail "the REST socket is not rampart's, 0600"
token=$(cat /var/lib/rampart/admin.key)
in_b curl -sf -H "Authorization: Bearer $token" http://127.0.0.1:8080/api/v1/firewall/rules >/dev/null \
  || fail "the bootstrap admin key was refused"
in_b curl -sf "http://127.0.0.1:8080/swagger-ui/?key=$token" >"$work/swagger" || fail "the installed Swagger UI did not answer"
grep -q 'swagger-ui-bundle.js' "$work/swagger" || fail "unexpected /swagger-ui/ page"
# root is an admin on the agent's socket (/run/rampart/rampart.sock, the default).
/usr/bin/rampartctl status >"$work/ctl" 2>&1 || fail "rampartctl status failed: $(cat "$work/ctl")"
grep -q '^firewall  *engine  *running' "$work/ctl" || fail "unexpected rampartctl status: $(cat "$work/ctl")"
# Lost keys, root's way back, while the agent runs: the new token's file is
# the agent's user's too.
/usr/sbin/rampartd keys reset --config /etc/rampart/rampart.yaml >"$work/reset" 2>&1 \
  || fail "rampartd keys reset failed: $(cat "$work/reset")"
[ "$(stat -c '%U %a' /var/lib/rampart/admin.key)" = "rampart 600" ] \
  || fail "after keys reset by root, admin.key is $(stat -c '%U %a' /var/lib/rampart/admin.key)"
code=$(in_b curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" http://127.0.0.1:8080/api/v1/firewall/rules)
[ "$code" = 401 ] || fail "the old token still works after keys reset ($code)"
in_b curl -sf -H "Authorization: Bearer $(cat /var/lib/rampart/admin.key)" http://127.0.0.1:8080/api/v1/firewall/rules >/dev/null \
  || fail "the token keys reset wrote was refused"
stop_service

# A plugin author's path: the example against the installed SDK package.
cmake -S "$example" -B "$work/example" -G Ninja >/dev/null || fail "example configure against /usr failed"
cmake --build "$work/example" >/dev/null || fail "example build against /usr failed"
[ -f "$work/example/hello_engine.so" ] || fail "example plugin not built"

# 2. Protecting the lab's interface, with the config the unit, the
# preparation step and the prerm all read (a conffile: dpkg -r keeps the
# edit, purge removes it).
[ "$(pings 3)" = 3 ] || fail "the lab does not pass pings before rampartd runs"
cat >/etc/rampart/rampart.yaml <<YAML
# Written by tests/package/package_test.sh.
agent:
  interfaces: [$if_b]
  bpf_pin_path: $pin_root
plugins:
  firewall:
    default_policy: allow
    rules:
      - {id: 1, priority: 10, action: deny, src_ip: 198.18.0.1/32, description: package test}
  rest: {enabled: true}
  metrics: {enabled: true}
  log: {enabled: true}
YAML
chmod 0644 /etc/rampart/rampart.yaml
# Without the preparation step the agent's user cannot set up bpffs and
# says what to run.
run_dir
sandboxed $start_cmd >"$work/daemon.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 30))
while kill -0 "$pid" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "rampartd runs as rampart without the pin root prepared"
  sleep 0.1
done
status=0
wait "$pid" || status=$?
pid=
umount /run/rampart
[ "$status" -eq 1 ] || fail "rampartd without the pin root prepared exited with $status, not 1"
grep -q -- '--prepare-pin-root' "$work/daemon.log" || fail "no hint at --prepare-pin-root: $(cat "$work/daemon.log")"
start_service ready
[ "$(stat -c '%U %a' "$pin_root")" = "rampart 700" ] || fail "the pin root is $(stat -c '%U %a' "$pin_root"), not rampart 700"
check_credentials
grep -q '\] ready plugins=firewall,log,metrics,rest refused=0' "$work/daemon.log" || fail "not ready with every plugin"
code=$(in_b curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz)
[ "$code" = 200 ] || fail "/readyz answered $code, not 200"
[ "$(pings 5)" = 0 ] || fail "the deny rule did not stop pings from 198.18.0.1"
in_b curl -sf http://127.0.0.1:8079/metrics >"$work/metrics" || fail "/metrics did not answer"
dropped=$(awk '/^rampart_kernel_packets_total\{/ && /program="xdp_firewall"/ && /outcome="dropped"/ {print $2}' "$work/metrics")
awk -v d="${dropped:-0}" 'BEGIN { exit !(d + 0 >= 5) }' || fail "the firewall counted ${dropped:-no} drops, not 5 or more"
stop_service
# Stopped, the agent's pinned programs go on filtering; removal must detach them.
[ "$(pings 3)" = 0 ] || fail "filtering stopped with rampartd"
kernel_state() {  # without a clsact qdisc, tc has no filters to show and says so on stderr
  ip -n "$ns_b" link show dev "$if_b" >"$work/link"
  { tc -n "$ns_b" filter show dev "$if_b" ingress; tc -n "$ns_b" filter show dev "$if_b" egress; } \
    >"$work/tc" 2>/dev/null || true
  tc -n "$ns_b" qdisc show dev "$if_b" >"$work/qdisc"
}
kernel_state
grep -q xdp "$work/link" || fail "no XDP program on $if_b while protected: $(cat "$work/link")"
grep -q tc_ingress "$work/tc" || fail "no TC filter on $if_b while protected: $(cat "$work/tc")"
grep -q clsact "$work/qdisc" || fail "no clsact qdisc on $if_b while protected"
[ -d "$pin_root/links" ] || fail "no pins in $pin_root"

# 3. Removal. The prerm runs where the interfaces are: on a host, the host's
# network namespace; here B (nsenter keeps this mount namespace).
nsenter --net="/run/netns/$ns_b" dpkg -r rampart >"$work/remove.log" 2>&1 || fail "dpkg -r rampart failed"
[ ! -e /usr/sbin/rampartd ] || fail "rampartd left behind after dpkg -r"
kernel_state
! grep -q xdp "$work/link" || fail "an XDP program is still on $if_b after dpkg -r: $(cat "$work/link")"
[ ! -s "$work/tc" ] || fail "TC filters are still on $if_b after dpkg -r: $(cat "$work/tc")"
! grep -q clsact "$work/qdisc" || fail "the clsact qdisc rampartd created is still on $if_b after dpkg -r"
[ ! -e "$pin_root" ] || fail "pins left after dpkg -r: $(ls -R "$pin_root")"
[ "$(pings 3)" = 3 ] || fail "pings do not pass after dpkg -r"

dpkg --purge rampart rampart-sdk-dev >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
[ ! -e /etc/rampart/rampart.yaml ] || fail "config left behind after purge"
[ ! -e /var/lib/rampart ] || fail "/var/lib/rampart left behind after purge"
[ ! -e /var/log/rampart ] || fail "/var/log/rampart left behind after purge"
[ ! -e "$wants" ] || fail "purge left rampart.service enabled"
# Kept on purge, as Debian keeps system users: files it owns may remain
# elsewhere, and its uid must not go to a new user (docs/running.md).
getent passwd rampart >/dev/null || fail "purge removed the rampart user"
echo "package test passed (unit exposure $score): $(basename "$deb"), $(basename "$sdk_deb"), $(basename "$rpm_main"), $(basename "$rpm_sdk")"
