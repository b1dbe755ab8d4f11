#!/bin/sh
# `file` as CPack's DEB generator asks it (packaging/cpack_project.cmake):
# the same answers, but an eBPF object is not reported "not stripped", so
# the -dbgsym split leaves it whole. Its symbols and BTF are what the
# loader reads: they are the program, not debug information.
/usr/bin/file "$@" | sed '/eBPF/s/not stripped/kept whole (eBPF object)/'
