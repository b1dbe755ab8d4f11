/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fixed-width types for layouts shared by BPF programs and user space. */
#ifndef RAMPART_TYPES_H
#define RAMPART_TYPES_H

#ifdef __bpf__
/* vmlinux.h, included first by every .bpf.c, defines __u8 ... __u64. */
#else
#include <linux/types.h>
#endif

#endif /* RAMPART_TYPES_H */
