#!/usr/bin/env bash
# The RPM installs beyond Debian: it must need nothing from the system but
# the C and C++ runtimes. Checked in a minimal Debian chroot (debootstrap
# --variant=minbase: glibc, libstdc++, no Poco, gRPC, Boost, yaml-cpp...),
# where the package is unpacked with rpm2cpio, as an RPM system's rpm
# would lay it out, and run:
#   - `rampartd --version` and `--check-config` of the shipped config (every
#     plugin loaded and its settings checked) run in the chroot;
#   - every library they load comes from the chroot's runtimes or the
#     package's own /usr/lib/rampart/lib (ldd there, nothing "not found");
#   - the package requires only runtime-level sonames, provides none of the
#     libraries it bundles, and has its real summary, description and
#     changelog (not CPack's placeholders); its scriptlets are ours.
# The minbase tree is made once and kept in /var/cache/rampart-debootstrap.
set -euo pipefail
build=$(cd "$1" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  [ -n "${RAMPART_REQUIRE_KERNEL:-}" ] && { echo "FAIL: the RPM test needs root" >&2; exit 1; }
  echo "skipping: needs root"; exit 77
fi
work=$(mktemp -d /tmp/rampart-rpm-XXXXXX)
cleanup() {
  set +e
  mountpoint -q "$work/root/proc" && umount "$work/root/proc"
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G RPM >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack failed"; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
rpm_file=$(ls "$build"/packages/rampart-"$version"-*.x86_64.rpm 2>/dev/null | head -n1)
[ -n "$rpm_file" ] || fail "no rampart-$version RPM in $build/packages"

# The metadata.
info=$(rpm -qpi "$rpm_file" 2>/dev/null)
grep -q "^Summary *: eBPF network-security agent" <<<"$info" || fail "summary: $info"
grep -q "XDP" <<<"$info" || fail "the description is not ours: $info"
grep -q "built using CMake\|created using CPack" <<<"$info" &&
  fail "a CPack placeholder in the metadata: $info"
rpm -qp --changelog "$rpm_file" 2>/dev/null | grep -q "^\* .* - $version-" ||
  fail "no changelog entry for $version"
rpm -qp --scripts "$rpm_file" 2>/dev/null | grep -q "detach-all" || fail "the scriptlets are not ours"

# Requires: runtime sonames, the scriptlets' tools, nothing bundled.
requires=$(rpm -qp --requires "$rpm_file" 2>/dev/null)
allowed='^(lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt|resolv)\.so\.[0-9]+(\(.*\))*|ld-linux-x86-64\.so\.2(\(.*\))*|rtld\(GNU_HASH\)|config\(rampart\) = .*|rpmlib\(.*\).*|/bin/sh|shadow-utils)$'
bad=$(grep -vE "$allowed" <<<"$requires" || true)
[ -z "$bad" ] || fail "the RPM requires what not every RPM system has: $bad"
provides=$(rpm -qp --provides "$rpm_file" 2>/dev/null)
grep -q "\.so" <<<"$provides" && fail "the RPM offers its bundled libraries to the system: $provides"

# A minimal Debian: the C and C++ runtimes, none of Rampart's libraries.
cache=/var/cache/rampart-debootstrap
tarball=$cache/bookworm-minbase.tar
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  debootstrap --variant=minbase bookworm "$work/make" "${mirror:-http://deb.debian.org/debian}" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log"; fail "debootstrap failed"; }
  tar -C "$work/make" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$work/make"
fi
mkdir "$work/root"
tar -C "$work/root" -xf "$tarball"
for lib in libPocoFoundation libgrpc++ libyaml-cpp libabsl_base libsqlite3 libbpf libhs; do
  if ls "$work/root"/usr/lib/x86_64-linux-gnu/"$lib".so* >/dev/null 2>&1; then
    fail "the chroot has $lib: it would prove nothing"
  fi
done

(cd "$work/root" && rpm2cpio "$rpm_file" | cpio -idm --quiet) || fail "rpm2cpio | cpio failed"
mount -t proc proc "$work/root/proc"
in_root() { chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

out=$(in_root rampartd --version 2>&1) || fail "rampartd --version in the chroot: $out"
[ "$out" = "rampartd $version (plugin ABI ${version%.*})" ] || fail "rampartd --version said: $out"
out=$(in_root rampartctl --version 2>&1) || fail "rampartctl --version in the chroot: $out"
grep -q "^rampartctl $version " <<<"$out" || fail "rampartctl --version said: $out"
out=$(in_root rampartd --check-config --config /etc/rampart/rampart.yaml 2>&1) ||
  fail "rampartd --check-config in the chroot: $out"
grep -q "configuration OK" <<<"$out" || fail "--check-config said: $out"

# Every ELF file's libraries resolve inside the chroot, to its runtimes or
# to the package's own copies.
plugins=$(cd "$work/root" && ls usr/lib/rampart/plugins/*.so)
[ -n "$plugins" ] || fail "no plugins in the package"
for elf in /usr/sbin/rampartd /usr/bin/rampartctl $(sed 's|^|/|' <<<"$plugins"); do
  deps=$(in_root ldd "$elf") || fail "ldd $elf: $deps"
  grep -q "not found" <<<"$deps" && fail "$elf in the chroot: $deps"
  outside=$(grep "=> /" <<<"$deps" | grep -vE "=> /usr/(s?bin/\.\./)?lib/rampart/(plugins/\.\./)?lib/|=> /(usr/)?lib/x86_64-linux-gnu/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libresolv)\.so" || true)
  [ -z "$outside" ] || fail "$elf loads from the system what it should bring: $outside"
done
echo "PASS: the RPM runs in a minimal chroot ($(ls "$work/root/usr/lib/rampart/lib" | wc -l) libraries bundled)"
