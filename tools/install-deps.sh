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
  libmaxminddb-dev libpcre2-dev libsqlite3-dev
  libgtest-dev libgmock-dev clang-format
  rpm dpkg-dev iproute2 xdp-tools iputils-ping gawk curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends "${missing[@]}"
