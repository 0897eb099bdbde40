#!/bin/sh
# Build task.bpf.o from task.bpf.c (needs clang and libbpf-dev: apt-get install clang libbpf-dev).
# The object is committed, so building rttng does not need clang; rerun this after editing the C.
# (paths.bpf.o has its own build.sh, kept as it was so that its committed object stays valid.)
set -eu
cd "$(dirname "$0")"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 \
	-I/usr/include/"$(uname -m)"-linux-gnu \
	-Wall -Werror -c task.bpf.c -o task.bpf.o
# Keep BTF (aya needs it for the maps and the CO-RE relocations) but drop the DWARF line info.
llvm-strip -g task.bpf.o
# A unit test checks these (task_bpf_object_matches_its_source).
sha256sum task.bpf.c build-task.sh task.bpf.o > task.bpf.sha256
