#!/usr/bin/env bash
# Installs the SDK component of the build to a fresh prefix, builds the
# example engine out of tree against it with find_package(RampartSDK), and
# drops the .so into <out>/plugins (root-owned, mode 0755, as rampartd wants).
set -euo pipefail
build=$1 example=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
cmake --install "$build" --component sdk --prefix "$out/prefix" >/dev/null

# A plugin must export exactly one symbol: the entry point.
only_entry_exported() {
  local exported
  exported=$(nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ {print $3}')
  if [ "$exported" != "rampart_plugin_entry" ]; then
    echo "$1 exports more than the entry point:" >&2
    echo "$exported" >&2
    exit 1
  fi
}
# The SDK's headers compile without a warning as C++17 and as C++20, with
# GCC and with Clang; GCC's C++20 build is the one installed.
for cxx in g++ clang++; do
  for std in 17 20; do
    cmake -S "$example" -B "$out/build-$cxx-$std" -G Ninja -DCMAKE_PREFIX_PATH="$out/prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_STANDARD="$std" -DCMAKE_CXX_STANDARD_REQUIRED=ON \
      -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >/dev/null
    cmake --build "$out/build-$cxx-$std"
    # Its unit test, on the SDK's in-process test host.
    ctest --test-dir "$out/build-$cxx-$std" --output-on-failure >/dev/null ||
      { ctest --test-dir "$out/build-$cxx-$std" --output-on-failure; exit 1; }
  done
done
# Every installed header stands on its own (the SDK's small C++ headers and
# the shared C layouts), without a warning, in both languages' standards.
for header in $(cd "$out/prefix/include" && find rampart -name '*.hpp' | sort); do
  for cxx in g++ clang++; do
    for std in 17 20; do
      echo "#include <$header>" |
        "$cxx" -std=c++$std -Wall -Wextra -Wpedantic -Werror -fsyntax-only \
          -I "$out/prefix/include" -x c++ - ||
        { echo "$header does not compile alone ($cxx, C++$std)" >&2; exit 1; }
    done
  done
done
ln -sfn build-g++-20 "$out/build"
mkdir -p "$out/plugins"
install -m 0755 "$out/build/hello_engine.so" "$out/plugins/hello_engine.so"
chmod 0755 "$out/plugins"
only_entry_exported "$out/plugins/hello_engine.so"
echo "sdk example built against the installed SDK: $out/plugins/hello_engine.so"

# The kernel engine example: its XDP and TC programs built with the SDK's
# rampart_add_bpf_object, and installed beside its .so.
kernel_example=$(dirname "$example")/port_watch
for cxx in g++ clang++; do
  cmake -S "$kernel_example" -B "$out/pw-$cxx" -G Ninja -DCMAKE_PREFIX_PATH="$out/prefix" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >/dev/null
  cmake --build "$out/pw-$cxx"
done
install -m 0755 "$out/pw-g++/port_watch.so" "$out/plugins/port_watch.so"
install -m 0644 "$out/pw-g++/port_watch.bpf.o" "$out/plugins/port_watch.bpf.o"
only_entry_exported "$out/plugins/port_watch.so"
echo "kernel engine example built against the installed SDK: $out/plugins/port_watch.{so,bpf.o}"
