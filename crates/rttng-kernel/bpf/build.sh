#!/bin/sh
# Build paths.bpf.o from paths.bpf.c (needs clang and libbpf-dev: apt-get install clang libbpf-dev).
# The object is committed, so building rttng does not need clang; rerun this after editing the C.
set -eu
cd "$(dirname "$0")"
clang -O2 -g -target bpf -D__TARGET_ARCH_x86 \
	-I/usr/include/"$(uname -m)"-linux-gnu \
	-Wall -Werror -c paths.bpf.c -o paths.bpf.o
# Keep BTF (aya needs it for the maps) but drop the DWARF line info.
llvm-strip -g paths.bpf.o
# Record which inputs the committed object was built from; a unit test checks them
# (bpf_object_matches_its_source), so editing the C without rebuilding fails the tests.
sha256sum paths.bpf.c build.sh paths.bpf.o > paths.bpf.sha256
