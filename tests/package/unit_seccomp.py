#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Runs a command under the seccomp parts of a systemd unit's sandbox.

usage: unit_seccomp.py UNIT_FILE COMMAND [ARG...]

There is no systemd on the test machines, so the package test emulates the
unit: setpriv gives the user, capabilities and no_new_privs; this applies
what systemd enforces with seccomp, read from the unit file itself, the way
systemd 252 builds it (src/shared/seccomp-util.c), then execs COMMAND:

- SystemCallFilter= (allow list; "~" lines remove; groups expanded by
  `systemd-analyze syscall-filter`): any other system call kills the
  process, as systemd's default SystemCallErrorNumber does.
- SystemCallArchitectures=native: libseccomp kills any other ABI.
- RestrictAddressFamilies= (allow list): socket() with another family
  fails with EAFNOSUPPORT.
- MemoryDenyWriteExecute=yes: mmap() writable and executable, mprotect()
  or pkey_mprotect() adding PROT_EXEC, shmat() with SHM_EXEC fail (EPERM).

Needs no_new_privs already set (setpriv --no-new-privs) when not root.
"""
import errno
import mmap
import os
import socket
import subprocess
import sys

import seccomp

SHM_EXEC = 0o100000
AF_MAX = 46  # linux/socket.h on 6.x


def service_directives(path):
    out = []
    section = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                out.append((key.strip(), value.strip()))
    return out


def expand(name, cache={}):
    """A syscall name, or a group expanded (recursively) by systemd-analyze."""
    if not name.startswith("@"):
        return {name}
    if name not in cache:
        text = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name],
                              check=True, capture_output=True, text=True).stdout
        members = set()
        for line in text.splitlines()[1:]:
            item = line.strip()
            if item and not item.startswith("#"):
                members |= expand(item)
        cache[name] = members
    return cache[name]


def syscall_filter(values):
    allowed = None
    for value in values:
        deny = value.startswith("~")
        names = set()
        for token in value.lstrip("~").split():
            names |= expand(token)
        if allowed is None:
            if deny:
                raise SystemExit("unit_seccomp: deny-list SystemCallFilter= is not emulated")
            allowed = names
        elif deny:
            allowed -= names
        else:
            allowed |= names
    f = seccomp.SyscallFilter(seccomp.KILL_PROCESS)
    for name in sorted(allowed):
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError):
            pass  # not a system call of this architecture: systemd skips it too
    return f


def address_families(values):
    allowed = set()
    for value in values:
        if value.startswith("~"):
            raise SystemExit("unit_seccomp: deny-list RestrictAddressFamilies= is not emulated")
        allowed |= {getattr(socket, token) for token in value.split()}
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    refuse = seccomp.ERRNO(errno.EAFNOSUPPORT)
    for family in range(AF_MAX):
        if family not in allowed:
            f.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.EQ, family))
    f.add_rule(refuse, "socket", seccomp.Arg(0, seccomp.GE, AF_MAX))
    return f


def memory_deny_write_execute():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    refuse = seccomp.ERRNO(errno.EPERM)
    wx = mmap.PROT_WRITE | mmap.PROT_EXEC
    f.add_rule(refuse, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, wx))
    for name in ("mprotect", "pkey_mprotect"):
        f.add_rule(refuse, name, seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, mmap.PROT_EXEC))
    f.add_rule(refuse, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, SHM_EXEC, SHM_EXEC))
    return f


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    unit, command = sys.argv[1], sys.argv[2:]
    directives = service_directives(unit)

    def values(key):
        return [v for k, v in directives if k == key]

    filters = []
    if values("SystemCallArchitectures") not in ([], ["native"]):
        raise SystemExit("unit_seccomp: only SystemCallArchitectures=native is emulated")
    if values("RestrictAddressFamilies"):
        filters.append(address_families(values("RestrictAddressFamilies")))
    if values("MemoryDenyWriteExecute") in (["yes"], ["true"], ["on"], ["1"]):
        filters.append(memory_deny_write_execute())
    # The allow list last: it may not allow seccomp() itself. The kernel runs
    # every filter and the most restrictive answer wins, as with systemd's
    # separate filters, so the order does not change what COMMAND may do.
    if values("SystemCallFilter"):
        filters.append(syscall_filter(values("SystemCallFilter")))
    for f in filters:
        f.load()
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
