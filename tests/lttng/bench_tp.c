/*
 * bench_tp.c: instantiates the `rttng_bench` tracepoint provider declared in
 * bench_tp.h. It holds no logic of its own.
 */
#define TRACEPOINT_CREATE_PROBES
#define TRACEPOINT_DEFINE

#include "bench_tp.h"
