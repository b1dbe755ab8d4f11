#!/usr/bin/env bash
# make demo: runs rampartd from the build tree on its built-in configuration,
# showing which plugins it loads. Ctrl-C stops it cleanly.
set -euo pipefail
build=${1:-build}
cat <<TXT

  Rampart demo
  ------------
  Starting rampartd on the built-in configuration (rampartd --print-default-config
  shows it). Watch it discover the plugins in $build/lib/rampart/plugins,
  check each one's ABI, and start the enabled ones. Press Ctrl-C to stop it.

TXT
exec "$build/bin/rampartd"
