/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fixed-width types for layouts shared by BPF programs and user space. */
#ifndef RAMPART_TYPES_H
#define RAMPART_TYPES_H

#ifdef __bpf__
/* vmlinux.h, included first by every .bpf.c, defines __u8 ... __u64. */
#else
#include <linux/types.h>
#endif

/* A name a kernel program and its engine share (a map, a setting, a
 * program), as the engine's string: with `#define MY_MAP my_map` the
 * program declares `} MY_MAP SEC(".maps");` and the engine asks for
 * RAMPART_NAME(MY_MAP), "my_map". One definition: a rename reaches both
 * sides or breaks the build, never the load. */
#define RAMPART_NAME(x) RAMPART__STRINGIFY(x)
#define RAMPART__STRINGIFY(x) #x

#endif /* RAMPART_TYPES_H */
